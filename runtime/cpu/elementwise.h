#pragma once
// Pointwise arithmetic on flat float arrays.
#include <cstdint>

namespace pouch::cpu {

// out[i] = a[i] + b[i]; out may alias a or b.
void add(float* out, const float* a, const float* b, std::int64_t n);

// x[i] *= s
void scale(float* x, float s, std::int64_t n);

}  // namespace pouch::cpu
