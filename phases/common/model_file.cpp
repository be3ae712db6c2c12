#include "phases/common/model_file.h"

#include "checkpoint/weights_file.h"
#include "checkpoint/weights_source.h"

namespace pouch {

void save_weights_file(const std::string& path, const GPTConfig& config,
                       const std::vector<std::pair<std::string, Tensor>>& named, const Tokenizer* tokenizer,
                       const std::string& config_ini) {
  std::map<std::string, std::string> attrs;
  if (tokenizer) attrs["tokenizer"] = tokenizer->serialize();
  if (!config_ini.empty()) attrs["config"] = config_ini;
  save_weights(path, config, named, attrs);
}

LoadedModel load_model_file(const std::string& path, Backend& backend) {
  WeightsFile file = load_weights(path);
  LoadedModel out;
  out.model = std::make_unique<GPT>(file.config, backend);
  out.model->load_named(file.params, path);
  if (auto it = file.attrs.find("tokenizer"); it != file.attrs.end())
    out.tokenizer = tokenizer_from_serialized(it->second, path + ":/model@tokenizer");
  if (auto it = file.attrs.find("config"); it != file.attrs.end()) out.config_ini = it->second;
  return out;
}

void load_weights_into(GPT& model, const std::string& path) {
  WeightsFile file = load_weights_any_format(path);
  const GPTConfig& want = model.config();
  const GPTConfig& got = file.config;
  if (got.layers != want.layers || got.d_model != want.d_model || got.heads != want.heads ||
      got.seq_len != want.seq_len || got.vocab_size != want.vocab_size)
    fail(
        "{}: the file holds a model with layers={} d_model={} heads={} seq_len={} vocab_size={}, but [model] "
        "says layers={} d_model={} heads={} seq_len={} vocab_size={}; make [model] match the file",
        path, got.layers, got.d_model, got.heads, got.seq_len, got.vocab_size, want.layers, want.d_model, want.heads,
        want.seq_len, want.vocab_size);
  model.load_named(file.params, path);
}

}  // namespace pouch
