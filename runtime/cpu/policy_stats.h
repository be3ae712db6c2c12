#pragma once
// Per-row statistics of the policy losses and the masked loss sum, each one
// pass on the host memory of the CPU backend (the loops that used to run in
// model/ and phases/ code, moved behind the Backend unchanged).
#include <cstdint>

namespace pouch::cpu {

// sum_exp[n] = f32(sum_i exp(z_i)), sum_exp_shifted[n] = f32(sum_i exp(z_i) z_i),
// z_i = logits[n, i] - row_max[n] for i < valid, each summed in double.
void softmax_entropy_stats(float* sum_exp, float* sum_exp_shifted, const float* logits, const float* row_max,
                           std::int64_t N, std::int64_t V, std::int64_t valid);
// entropy[n] = f32(log(s) - t / s), s = sum_exp[n], t = sum_exp_shifted[n], in double.
void softmax_entropy_finish(float* entropy, const float* sum_exp, const float* sum_exp_shifted, std::int64_t N);
// out[0] += sum of losses[n] with targets[n] >= 0 (from 0, in row order), out[1] += their count.
void masked_loss_sum(double* out, const float* losses, const std::int32_t* targets, std::int64_t N);

}  // namespace pouch::cpu
