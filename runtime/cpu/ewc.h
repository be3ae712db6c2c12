#pragma once
// Elastic weight consolidation's elementwise passes (Backend::ewc_*).
#include <cstdint>

namespace pouch::cpu {

// fisher[i] = f32(fisher[i] + weight * g_i * g_i), g_i = grads[i] in double.
void ewc_fisher_accumulate(float* fisher, const float* grads, double weight, std::int64_t n);
// grads[i] += lambda * fisher[i] * (values[i] - anchor[i]), in f32, left to right.
void ewc_penalty_gradient(float* grads, const float* values, const float* anchor, const float* fisher, float lambda,
                          std::int64_t n);
// sum_i fisher[i] * d_i * d_i, d_i = values[i] - anchor[i] in double, in index order.
double ewc_penalty_sum(const float* values, const float* anchor, const float* fisher, std::int64_t n);

}  // namespace pouch::cpu
