#include "runtime/cpu/elementwise.h"

#include "runtime/cpu/simd.h"

namespace pouch::cpu {

void add(float* out, const float* a, const float* b, std::int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= 4 * kParallelMinWork)
  for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void scale(float* x, float s, std::int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= 4 * kParallelMinWork)
  for (std::int64_t i = 0; i < n; ++i) x[i] *= s;
}

}  // namespace pouch::cpu
