#include "runtime/cpu/reductions.h"

#include <algorithm>
#include <vector>

#include "runtime/cpu/simd.h"

namespace pouch::cpu {

double sum_squares(const float* x, std::int64_t n) {
  constexpr std::int64_t kChunk = 1 << 14;
  const std::int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<std::size_t>(chunks), 0.0);
#pragma omp parallel for schedule(static) if (n >= 4 * kParallelMinWork)
  for (std::int64_t k = 0; k < chunks; ++k) {
    const std::int64_t end = std::min(n, (k + 1) * kChunk);
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (std::int64_t i = k * kChunk; i < end; ++i) {
      const double d = x[i];
      s += d * d;
    }
    partial[static_cast<std::size_t>(k)] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

}  // namespace pouch::cpu
