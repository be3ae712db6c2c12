#pragma once
#include <cstdint>

namespace pouch {

// GPT decoder hyper-parameters ([model] section). The math follows GPT-2 /
// nanoGPT: learned token and position embeddings, pre-LayerNorm blocks,
// fused-qkv causal attention, 4x GELU(tanh) MLP, final LayerNorm, LM head
// tied to the token embedding.
struct GPTConfig {
  std::int64_t layers = 4;
  std::int64_t d_model = 128;
  std::int64_t heads = 4;
  std::int64_t seq_len = 128;  // maximum context (rows of wpe)
  std::int64_t vocab_size = 64;
  float ln_eps = 1e-5f;

  std::int64_t head_size() const { return d_model / heads; }
  // Parameters, counting the tied wte once.
  std::int64_t num_parameters() const {
    std::int64_t C = d_model;
    std::int64_t per_block = 2 * C + 3 * C * C + 3 * C + C * C + C + 2 * C + 4 * C * C + 4 * C + 4 * C * C + C;
    return vocab_size * C + seq_len * C + layers * per_block + 2 * C;
  }
};

}  // namespace pouch
