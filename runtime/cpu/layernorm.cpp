#include "runtime/cpu/layernorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/cpu/simd.h"

namespace pouch::cpu {

void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* w, const float* b,
                       std::int64_t N, std::int64_t C, float eps) {
  const float inv_c = 1.0f / static_cast<float>(C);
#pragma omp parallel for schedule(static) if (N * C >= kParallelMinWork)
  for (std::int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * C;
    float* yr = out + n * C;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (std::int64_t c = 0; c < C; ++c) sum += xr[c];
    const float m = sum * inv_c;
    // Two passes (mean, then squared deviations) avoid E[x^2]-E[x]^2 cancellation.
    float var = 0.0f;
#pragma omp simd reduction(+ : var)
    for (std::int64_t c = 0; c < C; ++c) {
      const float d = xr[c] - m;
      var += d * d;
    }
    const float rs = 1.0f / std::sqrt(var * inv_c + eps);
#pragma omp simd
    for (std::int64_t c = 0; c < C; ++c) yr[c] = (xr[c] - m) * rs * w[c] + b[c];
    if (mean != nullptr) mean[n] = m;
    if (rstd != nullptr) rstd[n] = rs;
  }
}

void layernorm_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                        const float* mean, const float* rstd, std::int64_t N, std::int64_t C) {
  constexpr std::int64_t kRowsPerChunk = 32;
  const std::int64_t chunks = (N + kRowsPerChunk - 1) / kRowsPerChunk;
  const bool want_params = dw != nullptr || db != nullptr;
  // (chunks, 2, C): per-chunk partial sums of dy*xhat and dy.
  std::vector<float> partial(want_params ? static_cast<std::size_t>(chunks * 2 * C) : 0, 0.0f);
  const float inv_c = 1.0f / static_cast<float>(C);

#pragma omp parallel for schedule(static) if (N * C >= kParallelMinWork)
  for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
    float* pdw = want_params ? partial.data() + chunk * 2 * C : nullptr;
    float* pdb = want_params ? pdw + C : nullptr;
    const std::int64_t n_end = std::min(N, (chunk + 1) * kRowsPerChunk);
    for (std::int64_t n = chunk * kRowsPerChunk; n < n_end; ++n) {
      const float* xr = x + n * C;
      const float* dyr = dy + n * C;
      const float m = mean[n], rs = rstd[n];
      if (dx != nullptr) {
        float g_sum = 0.0f, gx_sum = 0.0f;
#pragma omp simd reduction(+ : g_sum, gx_sum)
        for (std::int64_t c = 0; c < C; ++c) {
          const float g = dyr[c] * w[c];
          g_sum += g;
          gx_sum += g * ((xr[c] - m) * rs);
        }
        const float g_mean = g_sum * inv_c, gx_mean = gx_sum * inv_c;
        float* dxr = dx + n * C;
#pragma omp simd
        for (std::int64_t c = 0; c < C; ++c) {
          const float xhat = (xr[c] - m) * rs;
          dxr[c] += rs * (dyr[c] * w[c] - g_mean - xhat * gx_mean);
        }
      }
      if (want_params) {
#pragma omp simd
        for (std::int64_t c = 0; c < C; ++c) {
          pdw[c] += dyr[c] * ((xr[c] - m) * rs);
          pdb[c] += dyr[c];
        }
      }
    }
  }
  if (!want_params) return;
#pragma omp parallel for schedule(static) if (chunks * C >= kParallelMinWork)
  for (std::int64_t c = 0; c < C; ++c) {
    float sw = 0.0f, sb = 0.0f;
    for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
      sw += partial[static_cast<std::size_t>(chunk * 2 * C + c)];
      sb += partial[static_cast<std::size_t>(chunk * 2 * C + C + c)];
    }
    if (dw != nullptr) dw[c] += sw;
    if (db != nullptr) db[c] += sb;
  }
}

}  // namespace pouch::cpu
