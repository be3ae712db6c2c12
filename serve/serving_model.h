#pragma once
// One loaded model version as the server uses it: the GPT, its tokenizer, the
// version and the file it came from. The server shares it read-only
// (std::shared_ptr<const ServingModel>): a request holds its snapshot for the
// whole generation, so a swap to a newer version never changes weights under
// a running request, and the old model is freed when its last request ends.
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "model/generator.h"
#include "model/gpt.h"
#include "runtime/backend.h"

namespace pouch {

class ServingModel {
 public:
  // Loads `path` completely (every tensor, the tokenizer) onto a new backend
  // for `device` (make_backend). Throws pouch::Error naming the file when it
  // is unreadable, damaged or carries no tokenizer. `version` is what the
  // responses report.
  static std::shared_ptr<const ServingModel> load(const std::string& path, std::int64_t version,
                                                  Device device = Device::CPU);
  // A model already in memory (benchmarks and tests swap these in without a
  // file); `backend` must be the one `model` was built on.
  static std::shared_ptr<const ServingModel> adopt(std::unique_ptr<Backend> backend, std::unique_ptr<GPT> model,
                                                   std::unique_ptr<Tokenizer> tokenizer, std::int64_t version,
                                                   std::string path);

  std::int64_t version() const { return version_; }
  const std::string& path() const { return path_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const GPTConfig& config() const { return model_->config(); }
  Device device() const { return backend_->device(); }

  // Generation options for this model: the sampler limited to the ids its
  // tokenizer decodes, stopping at its end-of-text token unless ignore_eos
  // (then that token is sampled, returned and decoded like any other).
  GenerateOptions generate_options(const SamplingOptions& sampling, std::int64_t max_tokens,
                                   bool ignore_eos = false) const;

  // start() and step() run the model (Generator, model/generator.h). The
  // weights never change; the decode scratch does, so they are logically
  // const and serialized by an internal mutex. In `pouch serve` only the
  // GenerationBatcher's thread calls them.
  GenerationSequence start(const std::vector<std::int32_t>& prompt, const GenerateOptions& options,
                           std::uint64_t seed) const;
  void step(std::span<GenerationSequence* const> batch) const;

 private:
  ServingModel() = default;

  std::int64_t version_ = 0;
  std::string path_;
  std::unique_ptr<Backend> backend_;  // outlives model_ (declared first)
  std::unique_ptr<GPT> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  mutable std::mutex generate_mutex_;
  mutable std::unique_ptr<Generator> generator_;  // guarded by generate_mutex_
};

}  // namespace pouch
