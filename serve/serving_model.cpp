#include "serve/serving_model.h"

#include "phases/common/model_file.h"
#include "runtime/error.h"

namespace pouch {

std::shared_ptr<const ServingModel> ServingModel::load(const std::string& path, std::int64_t version) {
  std::shared_ptr<ServingModel> out(new ServingModel());
  out->version_ = version;
  out->path_ = path;
  out->backend_ = make_backend(Device::CPU);
  LoadedModel loaded = load_model_file(path, *out->backend_);
  if (!loaded.tokenizer)
    fail(
        "{} carries no tokenizer (/model@tokenizer); the server cannot turn prompts into tokens: publish it with "
        "publish_serving_version or write it with pouch train",
        path);
  if (loaded.tokenizer->vocab_size() > loaded.model->config().vocab_size)
    fail("{}: the tokenizer has {} tokens but the model's vocab_size is {}", path, loaded.tokenizer->vocab_size(),
         loaded.model->config().vocab_size);
  out->model_ = std::move(loaded.model);
  out->tokenizer_ = std::move(loaded.tokenizer);
  out->generator_ = std::make_unique<Generator>(*out->model_);
  return out;
}

Completion ServingModel::generate(const std::vector<std::int32_t>& prompt, const GenerateOptions& options,
                                  std::uint64_t seed) const {
  std::lock_guard lock(generate_mutex_);
  RngStream rng(seed, stream_id("serve"));
  Completion out;
  out.ids = generator_->generate(prompt, options, rng);
  out.text = tokenizer_->decode(out.ids);
  return out;
}

}  // namespace pouch
