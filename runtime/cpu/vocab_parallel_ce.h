#pragma once
// Vocab-parallel cross-entropy (Megatron-LM, Shoeybi et al. 2019, sec. 3):
// rank r holds logits [N, V] = columns [vocab_start, vocab_start + V) of the
// full vocabulary, of which the first `valid` are real and the rest padding
// (the vocabulary is padded to a multiple of the tensor-parallel degree).
// Full logits never exist on one rank:
//   1. m_n   = max over local real columns        -> all-reduce MAX
//   2. s_n   = sum over local real columns of exp(l - m_n), and
//      z_n   = the target's logit if it is local, else 0   -> all-reduce SUM
//   3. loss_n = log(s_n) + m_n - z_n
//      dl    = (exp(l - m_n) / s_n - onehot(target)) * grad_scale; 0 on padding
// A target < 0 is ignored: loss 0, gradient 0.
#include <cstdint>

namespace pouch::cpu {

// maxes[N]: each row's maximum; -inf when a rank holds no real column (valid = 0).
void vocab_parallel_ce_max(float* maxes, const float* logits, std::int64_t N, std::int64_t V, std::int64_t valid);
// sum_exp[N], target_logit[N] from the global row_max.
void vocab_parallel_ce_stats(float* sum_exp, float* target_logit, const float* logits, const float* row_max,
                             const std::int32_t* targets, std::int64_t N, std::int64_t V, std::int64_t valid,
                             std::int64_t vocab_start);
// losses[N] (optional) and dlogits[N, V] (optional, may alias logits) from the
// globally reduced row_max, sum_exp and target_logit. row_scale[N], when
// given, replaces grad_scale row by row.
void vocab_parallel_ce_finish(float* losses, float* dlogits, const float* logits, const float* row_max,
                              const float* sum_exp, const float* target_logit, const std::int32_t* targets,
                              std::int64_t N, std::int64_t V, std::int64_t valid, std::int64_t vocab_start,
                              float grad_scale, const float* row_scale = nullptr);

}  // namespace pouch::cpu
