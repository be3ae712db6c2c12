#pragma once
#include <cstdint>
#include <vector>

#include "model/gpt.h"
#include "model/sampling.h"

namespace pouch {

struct GenerateOptions {
  SamplingOptions sampling;
  std::int64_t max_tokens = 64;
  std::int32_t stop_token = -1;  // generation ends after this token (not returned); -1 = none
};

// Autoregressive generation for one prompt with a KV cache: the prompt is fed
// token by token through decode_step (prefill), then each new token is
// sampled and fed back. Stops at stop_token, max_tokens or the model's
// context length. Returns the generated tokens, without the prompt.
class Generator {
 public:
  explicit Generator(GPT& model);
  std::vector<std::int32_t> generate(const std::vector<std::int32_t>& prompt, const GenerateOptions& opt,
                                     RngStream& rng);

 private:
  GPT& model_;
  KVCache cache_;
  Tensor token_, logits_;
};

}  // namespace pouch
