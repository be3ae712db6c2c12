#include "runtime/cpu/linear.h"

#include <algorithm>
#include <cstring>

#include "runtime/cpu/gemm.h"
#include "runtime/cpu/simd.h"

namespace pouch::cpu {

void linear_forward(float* out, const float* x, const float* w, const float* bias, std::int64_t N, std::int64_t I,
                    std::int64_t O) {
  if (bias == nullptr) {
    sgemm(false, true, N, O, I, 1.0f, x, w, 0.0f, out);
    return;
  }
  // Seed out with the bias and let the GEMM accumulate (beta = 1): BLAS makes a
  // pass over C for beta anyway, so the bias costs no extra pass.
#pragma omp parallel for schedule(static) if (N * O >= kParallelMinWork)
  for (std::int64_t n = 0; n < N; ++n) std::memcpy(out + n * O, bias, static_cast<std::size_t>(O) * sizeof(float));
  sgemm(false, true, N, O, I, 1.0f, x, w, 1.0f, out);
}

void linear_backward(float* dx, float* dw, float* dbias, const float* dy, const float* x, const float* w,
                     std::int64_t N, std::int64_t I, std::int64_t O) {
  if (dx != nullptr) sgemm(false, false, N, I, O, 1.0f, dy, w, 0.0f, dx);
  if (dw != nullptr) sgemm(true, false, O, I, N, 1.0f, dy, x, 1.0f, dw);
  if (dbias != nullptr) bias_backward(dbias, dy, N, O);
}

void bias_backward(float* db, const float* dy, std::int64_t N, std::int64_t O) {
  // Each thread owns a block of columns and walks every row in order: no
  // shared accumulators, and each column's sum order is fixed.
  constexpr std::int64_t kBlock = 64;
  const std::int64_t blocks = (O + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (N * O >= kParallelMinWork)
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    const std::int64_t c0 = blk * kBlock, width = std::min(kBlock, O - c0);
    float acc[kBlock] = {};
    for (std::int64_t n = 0; n < N; ++n) {
      const float* row = dy + n * O + c0;
#pragma omp simd
      for (std::int64_t c = 0; c < width; ++c) acc[c] += row[c];
    }
    for (std::int64_t c = 0; c < width; ++c) db[c0 + c] += acc[c];
  }
}

}  // namespace pouch::cpu
