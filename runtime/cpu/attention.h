#pragma once
// Causal multi-head self-attention kernels on the CPU, in the blocked
// ("flash") form: forward keeps only each query row's log-sum-exp, backward
// recomputes the probabilities block by block, so no T x T matrix per head
// outlives a block. Layout as in Backend::attention_forward:
//   qkv [B, T, 3C]: q = columns [0,C), k = [C,2C), v = [2C,3C); head h owns
//   columns h*hs .. (h+1)*hs of each, hs = C / NH.
//   out [B, T, C], lse [B, NH, T].
#include <cstdint>

namespace pouch::cpu {

// lse may be null (inference: nothing saved).
void attention_forward(float* out, float* lse, const float* qkv, std::int64_t B, std::int64_t T, std::int64_t C,
                       std::int64_t NH);
// dqkv [B, T, 3C] is overwritten.
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                        std::int64_t B, std::int64_t T, std::int64_t C, std::int64_t NH);
// One query per sequence against a KV cache: q [B, C], k and v [B, Tmax, C],
// valid positions [0, len); out [B, C].
void attention_decode(float* out, const float* q, const float* k, const float* v, std::int64_t B, std::int64_t Tmax,
                      std::int64_t len, std::int64_t C, std::int64_t NH);

}  // namespace pouch::cpu
