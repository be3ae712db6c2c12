#include "runtime/cpu/adamw.h"

#include <algorithm>
#include <cmath>

#include "runtime/cpu/simd.h"

namespace pouch::cpu {

void adamw_update(float* param, const float* grad, float* m, float* v, std::int64_t n, const AdamWStep& hp) {
  // Scalars as PyTorch forms them: in double, rounded to float at use.
  const double t = static_cast<double>(hp.step);
  const float step_size = static_cast<float>(static_cast<double>(hp.lr) / (1.0 - std::pow(double{hp.beta1}, t)));
  const float bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(double{hp.beta2}, t)));
  const float decay = static_cast<float>(1.0 - static_cast<double>(hp.lr) * static_cast<double>(hp.weight_decay));
  const float b1 = hp.beta1, b2 = hp.beta2;
  const float one_minus_b1 = static_cast<float>(1.0 - double{hp.beta1});
  const float one_minus_b2 = static_cast<float>(1.0 - double{hp.beta2});
  const float eps = hp.eps, gs = hp.grad_scale;

  constexpr std::int64_t kTile = 4096;
  const std::int64_t tiles = (n + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if (n >= kParallelMinWork)
  for (std::int64_t tile = 0; tile < tiles; ++tile) {
    std::int64_t i = tile * kTile;
    const std::int64_t end = std::min(n, i + kTile);
#if POUCH_HAVE_AVX2
    const __m256 vgs = _mm256_set1_ps(gs), vdecay = _mm256_set1_ps(decay), vb1 = _mm256_set1_ps(b1),
                 vb2 = _mm256_set1_ps(b2), v1b1 = _mm256_set1_ps(one_minus_b1), v1b2 = _mm256_set1_ps(one_minus_b2),
                 vbc2 = _mm256_set1_ps(bc2_sqrt), veps = _mm256_set1_ps(eps), vstep = _mm256_set1_ps(step_size);
    for (; i + 8 <= end; i += 8) {
      const __m256 g = _mm256_mul_ps(_mm256_loadu_ps(grad + i), vgs);
      __m256 p = _mm256_mul_ps(_mm256_loadu_ps(param + i), vdecay);
      const __m256 mi = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(m + i), vb1), _mm256_mul_ps(v1b1, g));
      const __m256 vi =
          _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), vb2), _mm256_mul_ps(_mm256_mul_ps(v1b2, g), g));
      const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), vbc2), veps);
      p = _mm256_sub_ps(p, _mm256_mul_ps(vstep, _mm256_div_ps(mi, denom)));
      _mm256_storeu_ps(m + i, mi);
      _mm256_storeu_ps(v + i, vi);
      _mm256_storeu_ps(param + i, p);
    }
#endif
    for (; i < end; ++i) {
      const float g = grad[i] * gs;
      float p = param[i] * decay;
      const float mi = m[i] * b1 + one_minus_b1 * g;
      const float vi = v[i] * b2 + one_minus_b2 * g * g;
      const float denom = std::sqrt(vi) / bc2_sqrt + eps;
      p = p - step_size * (mi / denom);
      m[i] = mi;
      v[i] = vi;
      param[i] = p;
    }
  }
}

}  // namespace pouch::cpu
