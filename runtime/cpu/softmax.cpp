#include "runtime/cpu/softmax.h"

#include <cmath>
#include <limits>

#include "runtime/cpu/simd.h"

namespace pouch::cpu {

float row_max(const float* row, std::int64_t V) {
  float m = -std::numeric_limits<float>::infinity();
  std::int64_t i = 0;
#if POUCH_HAVE_AVX2
  if (V >= 8) {
    __m256 vm = _mm256_loadu_ps(row);
    for (i = 8; i + 8 <= V; i += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(row + i));
    m = hmax256_ps(vm);
  }
#endif
  for (; i < V; ++i) m = row[i] > m ? row[i] : m;
  return m;
}

float row_exp_sum(float* dst, const float* row, std::int64_t V, float max, float inv_t) {
  float sum = 0.0f;
  std::int64_t i = 0;
#if POUCH_HAVE_AVX2
  __m256 acc = _mm256_setzero_ps();
  const __m256 vmax = _mm256_set1_ps(max), vinv = _mm256_set1_ps(inv_t);
  for (; i + 8 <= V; i += 8) {
    const __m256 e = exp256_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(row + i), vmax), vinv));
    acc = _mm256_add_ps(acc, e);
    if (dst != nullptr) _mm256_storeu_ps(dst + i, e);
  }
  sum = hsum256_ps(acc);
#endif
  for (; i < V; ++i) {
    const float e = std::exp((row[i] - max) * inv_t);
    sum += e;
    if (dst != nullptr) dst[i] = e;
  }
  return sum;
}

void softmax_forward(float* out, const float* x, std::int64_t N, std::int64_t V, float temperature) {
  const float inv_t = 1.0f / temperature;
#pragma omp parallel for schedule(static) if (N * V >= kParallelMinWork)
  for (std::int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * V;
    float* yr = out + n * V;
    const float m = row_max(xr, V);
    const float inv_sum = 1.0f / row_exp_sum(yr, xr, V, m, inv_t);
#pragma omp simd
    for (std::int64_t i = 0; i < V; ++i) yr[i] *= inv_sum;
  }
}

}  // namespace pouch::cpu
