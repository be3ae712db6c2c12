#pragma once
// Whole-tensor reductions, accumulated in double.
#include <cstdint>

namespace pouch::cpu {

// sum of x[i]^2. Summed over fixed chunks, then the chunk sums in order, so
// the bits do not depend on the number of threads.
double sum_squares(const float* x, std::int64_t n);

}  // namespace pouch::cpu
