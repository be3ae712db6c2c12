#include "runtime/cpu/embedding.h"

#include <algorithm>
#include <cstring>

#include "runtime/cpu/simd.h"

namespace pouch::cpu {

void embedding_forward(float* out, const std::int32_t* ids, const float* table, std::int64_t N, std::int64_t V,
                       std::int64_t C, std::int64_t vocab_start, bool accumulate) {
  const std::size_t row_bytes = static_cast<std::size_t>(C) * sizeof(float);
#pragma omp parallel for schedule(static) if (N * C >= kParallelMinWork)
  for (std::int64_t n = 0; n < N; ++n) {
    const std::int64_t r = static_cast<std::int64_t>(ids[n]) - vocab_start;
    float* o = out + n * C;
    const bool inside = r >= 0 && r < V;
    if (!accumulate) {
      if (inside)
        std::memcpy(o, table + r * C, row_bytes);
      else
        std::memset(o, 0, row_bytes);
    } else if (inside) {
      const float* src = table + r * C;
#pragma omp simd
      for (std::int64_t c = 0; c < C; ++c) o[c] += src[c];
    }
  }
}

void embedding_backward(float* dtable, const float* dout, const std::int32_t* ids, std::int64_t N, std::int64_t V,
                        std::int64_t C, std::int64_t vocab_start) {
  constexpr std::int64_t kBlock = 32;
  const std::int64_t blocks = (C + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (N * C >= kParallelMinWork)
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    const std::int64_t c0 = blk * kBlock, width = std::min(kBlock, C - c0);
    for (std::int64_t n = 0; n < N; ++n) {
      const std::int64_t r = static_cast<std::int64_t>(ids[n]) - vocab_start;
      if (r < 0 || r >= V) continue;
      float* dst = dtable + r * C + c0;
      const float* src = dout + n * C + c0;
#pragma omp simd
      for (std::int64_t c = 0; c < width; ++c) dst[c] += src[c];
    }
  }
}

}  // namespace pouch::cpu
