#pragma once
// One loaded model version as the server uses it: the GPT, its tokenizer, the
// version and the file it came from. The server shares it read-only
// (std::shared_ptr<const ServingModel>): a request holds its snapshot for the
// whole generation, so a swap to a newer version never changes weights under
// a running request, and the old model is freed when its last request ends.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "model/generator.h"
#include "model/gpt.h"
#include "runtime/backend.h"

namespace pouch {

struct Completion {
  std::vector<std::int32_t> ids;  // generated tokens, without the prompt
  std::string text;               // their decoding
};

class ServingModel {
 public:
  // Loads `path` completely (every tensor, the tokenizer) on the CPU backend.
  // Throws pouch::Error naming the file when it is unreadable, damaged or
  // carries no tokenizer. `version` is what the responses report.
  static std::shared_ptr<const ServingModel> load(const std::string& path, std::int64_t version);

  std::int64_t version() const { return version_; }
  const std::string& path() const { return path_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const GPTConfig& config() const { return model_->config(); }

  // Generates from `prompt` (token ids) with a KV cache, stopping at the
  // tokenizer's end-of-text token. The weights never change; the decode
  // scratch and KV cache do, so calls on one instance are serialized by an
  // internal mutex (logically const).
  Completion generate(const std::vector<std::int32_t>& prompt, const GenerateOptions& options,
                      std::uint64_t seed) const;

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
