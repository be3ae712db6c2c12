#include "runtime/cpu/policy_stats.h"

#include <cmath>

namespace pouch::cpu {

void softmax_entropy_stats(float* sum_exp, float* sum_exp_shifted, const float* logits, const float* row_max,
                           std::int64_t N, std::int64_t V, std::int64_t valid) {
  for (std::int64_t n = 0; n < N; ++n) {
    const float* l = logits + n * V;
    const float m = row_max[n];
    double s = 0.0, t = 0.0;
    for (std::int64_t i = 0; i < valid; ++i) {
      const double z = static_cast<double>(l[i]) - m;
      const double e = std::exp(z);
      s += e;
      t += e * z;
    }
    sum_exp[n] = static_cast<float>(s);
    sum_exp_shifted[n] = static_cast<float>(t);
  }
}

void softmax_entropy_finish(float* entropy, const float* sum_exp, const float* sum_exp_shifted, std::int64_t N) {
  for (std::int64_t n = 0; n < N; ++n)
    entropy[n] = static_cast<float>(std::log(static_cast<double>(sum_exp[n])) -
                                    static_cast<double>(sum_exp_shifted[n]) / sum_exp[n]);
}

void masked_loss_sum(double* out, const float* losses, const std::int32_t* targets, std::int64_t N) {
  double sum = 0.0;
  std::int64_t count = 0;
  for (std::int64_t i = 0; i < N; ++i) {
    if (targets[i] < 0) continue;
    sum += losses[i];
    ++count;
  }
  out[0] += sum;
  out[1] += static_cast<double>(count);
}

}  // namespace pouch::cpu
