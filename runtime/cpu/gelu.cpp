#include "runtime/cpu/gelu.h"

#include <algorithm>
#include <cmath>

#include "runtime/cpu/simd.h"

namespace pouch::cpu {
namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

inline float sigmoid_2u(float x) {
  const float u = kSqrt2OverPi * (x + kCubic * x * x * x);
  return 1.0f / (1.0f + std::exp(-2.0f * u));
}

// Elements per parallel task: large enough to amortise scheduling, a
// multiple of 8 so only the last task has a scalar tail.
constexpr std::int64_t kTile = 4096;

#if POUCH_HAVE_AVX2
inline __m256 sigmoid_2u_ps(__m256 x) {
  const __m256 x2 = _mm256_mul_ps(x, x);
  // -2u = -2 sqrt(2/pi) x (1 + 0.044715 x^2)
  const __m256 inner = _mm256_fmadd_ps(_mm256_set1_ps(kCubic), x2, _mm256_set1_ps(1.0f));
  const __m256 m2u = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(-2.0f * kSqrt2OverPi), x), inner);
  const __m256 e = exp256_ps(m2u);
  return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}
#endif

}  // namespace

void gelu_forward(float* out, const float* x, std::int64_t n) {
  const std::int64_t tiles = (n + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if (n >= kParallelMinWork)
  for (std::int64_t t = 0; t < tiles; ++t) {
    std::int64_t i = t * kTile;
    const std::int64_t end = std::min(n, i + kTile);
#if POUCH_HAVE_AVX2
    for (; i + 8 <= end; i += 8) {
      const __m256 v = _mm256_loadu_ps(x + i);
      _mm256_storeu_ps(out + i, _mm256_mul_ps(v, sigmoid_2u_ps(v)));
    }
#endif
    for (; i < end; ++i) out[i] = x[i] * sigmoid_2u(x[i]);
  }
}

void gelu_backward(float* dx, const float* dy, const float* x, std::int64_t n) {
  const std::int64_t tiles = (n + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if (n >= kParallelMinWork)
  for (std::int64_t t = 0; t < tiles; ++t) {
    std::int64_t i = t * kTile;
    const std::int64_t end = std::min(n, i + kTile);
#if POUCH_HAVE_AVX2
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= end; i += 8) {
      const __m256 v = _mm256_loadu_ps(x + i);
      const __m256 s = sigmoid_2u_ps(v);
      // du/dx = sqrt(2/pi) (1 + 3*0.044715 x^2)
      const __m256 dudx = _mm256_fmadd_ps(_mm256_set1_ps(3.0f * kCubic * kSqrt2OverPi), _mm256_mul_ps(v, v),
                                          _mm256_set1_ps(kSqrt2OverPi));
      // s + 2 x s (1 - s) du/dx
      const __m256 t2 = _mm256_mul_ps(_mm256_mul_ps(_mm256_add_ps(v, v), s), _mm256_sub_ps(one, s));
      const __m256 grad = _mm256_fmadd_ps(t2, dudx, s);
      _mm256_storeu_ps(dx + i, _mm256_mul_ps(_mm256_loadu_ps(dy + i), grad));
    }
#endif
    for (; i < end; ++i) {
      const float v = x[i], s = sigmoid_2u(v);
      const float dudx = kSqrt2OverPi * (1.0f + 3.0f * kCubic * v * v);
      dx[i] = dy[i] * (s + 2.0f * v * s * (1.0f - s) * dudx);
    }
  }
}

}  // namespace pouch::cpu
