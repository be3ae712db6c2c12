#pragma once
#include <cstdint>
#include <vector>

#include "runtime/rng.h"

namespace pouch {

struct SamplingOptions {
  float temperature = 0.0f;  // 0 = greedy (argmax)
  std::int64_t top_k = 0;    // keep the k most likely tokens; 0 = all
  float top_p = 1.0f;        // nucleus: smallest set with cumulative probability >= top_p; 1 = all
};

// Picks the next token from one row of logits [V]. Greedy takes the first
// maximum; otherwise softmax(logits / temperature), restricted by top-k then
// top-p, renormalised, sampled with one uniform draw from `rng`.
std::int32_t sample_token(const float* logits, std::int64_t vocab, const SamplingOptions& opt, RngStream& rng);

}  // namespace pouch
