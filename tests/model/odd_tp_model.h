// The small GPT the tensor-parallel tests share: sizes chosen so that the
// vocabulary (29) splits unevenly over tp = 2 and 4 and the sequence (9)
// is odd, with random token batches of [3, seq_len] drawn from it.
#pragma once

#include <cstdint>

#include "model/gpt_config.h"
#include "runtime/rng.h"
#include "runtime/tensor.h"

namespace pouch::test {

inline GPTConfig odd_tp_config() {
  GPTConfig c;
  c.layers = 2;
  c.d_model = 16;
  c.heads = 4;
  c.seq_len = 9;
  c.vocab_size = 29;
  return c;
}

// Host tokens [3, 9] in [0, 29), a stream per seed.
inline Tensor odd_tp_tokens(std::uint64_t seed) {
  Tensor t = Tensor::empty({3, 9}, DType::I32);
  RngStream rng(seed, 1);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.i32()[i] = static_cast<std::int32_t>(rng.below(29));
  return t;
}

}  // namespace pouch::test
