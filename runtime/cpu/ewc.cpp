#include "runtime/cpu/ewc.h"

namespace pouch::cpu {

void ewc_fisher_accumulate(float* fisher, const float* grads, double weight, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const double gi = grads[i];
    fisher[i] = static_cast<float>(fisher[i] + weight * gi * gi);
  }
}

void ewc_penalty_gradient(float* grads, const float* values, const float* anchor, const float* fisher, float lambda,
                          std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) grads[i] += lambda * fisher[i] * (values[i] - anchor[i]);
}

double ewc_penalty_sum(const float* values, const float* anchor, const float* fisher, std::int64_t n) {
  double sum = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(values[i]) - anchor[i];
    sum += fisher[i] * d * d;
  }
  return sum;
}

}  // namespace pouch::cpu
