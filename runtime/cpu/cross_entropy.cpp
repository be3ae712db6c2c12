#include "runtime/cpu/cross_entropy.h"

#include <cmath>
#include <cstring>

#include "runtime/cpu/simd.h"
#include "runtime/cpu/softmax.h"
#include "runtime/error.h"

namespace pouch::cpu {

void cross_entropy_forward_backward(float* losses, float* dlogits, const float* logits, const std::int32_t* targets,
                                    std::int64_t N, std::int64_t V, float grad_scale, const float* row_scale) {
#pragma omp parallel for schedule(static) if (N * V >= kParallelMinWork)
  for (std::int64_t n = 0; n < N; ++n) {
    const float* xr = logits + n * V;
    float* dr = dlogits != nullptr ? dlogits + n * V : nullptr;
    const std::int32_t t = targets[n];
    if (t < 0) {
      if (losses != nullptr) losses[n] = 0.0f;
      if (dr != nullptr) std::memset(dr, 0, static_cast<std::size_t>(V) * sizeof(float));
      continue;
    }
    POUCH_CHECK(t < V, "cross_entropy: target {} at row {} is outside the vocabulary of {}", t, n, V);
    const float x_t = xr[t];  // read before dr (which may alias xr) is overwritten
    const float m = row_max(xr, V);
    const float sum = row_exp_sum(dr, xr, V, m, 1.0f);
    if (losses != nullptr) losses[n] = (m - x_t) + std::log(sum);
    if (dr != nullptr) {
      const float g = row_scale != nullptr ? row_scale[n] : grad_scale;
      const float s = g / sum;
#pragma omp simd
      for (std::int64_t i = 0; i < V; ++i) dr[i] *= s;
      dr[t] -= g;
    }
  }
}

}  // namespace pouch::cpu
