#include "serve/serving_model.h"

#include "phases/common/model_file.h"
#include "runtime/error.h"

namespace pouch {

std::shared_ptr<const ServingModel> ServingModel::load(const std::string& path, std::int64_t version, Device device) {
  auto backend = make_backend(device);
  LoadedModel loaded = load_model_file(path, *backend);
  if (!loaded.tokenizer)
    fail(
        "{} carries no tokenizer (/model@tokenizer); the server cannot turn prompts into tokens: publish it with "
        "publish_serving_version or write it with pouch train",
        path);
  return adopt(std::move(backend), std::move(loaded.model), std::move(loaded.tokenizer), version, path);
}

std::shared_ptr<const ServingModel> ServingModel::adopt(std::unique_ptr<Backend> backend, std::unique_ptr<GPT> model,
                                                        std::unique_ptr<Tokenizer> tokenizer, std::int64_t version,
                                                        std::string path) {
  if (tokenizer->vocab_size() > model->config().vocab_size)
    fail("{}: the tokenizer has {} tokens but the model's vocab_size is {}", path, tokenizer->vocab_size(),
         model->config().vocab_size);
  std::shared_ptr<ServingModel> out(new ServingModel());
  out->version_ = version;
  out->path_ = std::move(path);
  out->backend_ = std::move(backend);
  out->model_ = std::move(model);
  out->tokenizer_ = std::move(tokenizer);
  out->generator_ = std::make_unique<Generator>(*out->model_);
  return out;
}

GenerateOptions ServingModel::generate_options(const SamplingOptions& sampling, std::int64_t max_tokens,
                                               bool ignore_eos) const {
  GenerateOptions opt;
  opt.sampling = sampling;
  opt.max_tokens = max_tokens;
  opt.stop_token = ignore_eos ? -1 : tokenizer_->eot_id();
  opt.decodable_vocab = tokenizer_->vocab_size();
  return opt;
}

GenerationSequence ServingModel::start(const std::vector<std::int32_t>& prompt, const GenerateOptions& options,
                                       std::uint64_t seed) const {
  std::lock_guard lock(generate_mutex_);
  return generator_->start(prompt, options, RngStream(seed, stream_id("serve")));
}

void ServingModel::step(std::span<GenerationSequence* const> batch) const {
  std::lock_guard lock(generate_mutex_);
  generator_->step(batch);
}

}  // namespace pouch
