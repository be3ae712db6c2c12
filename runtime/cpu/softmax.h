#pragma once
// Row-wise softmax, numerically stable (the row maximum is subtracted first).
#include <cstdint>

namespace pouch::cpu {

// out[N,V] = softmax(x[N,V] / temperature) per row; temperature > 0; out may alias x.
void softmax_forward(float* out, const float* x, std::int64_t N, std::int64_t V, float temperature);

// Shared with cross-entropy: the maximum of row[0..V), and
// sum_i exp((row[i] - max) * inv_t), writing each exp to dst when dst is not
// null (dst may alias row).
float row_max(const float* row, std::int64_t V);
float row_exp_sum(float* dst, const float* row, std::int64_t V, float max, float inv_t);

}  // namespace pouch::cpu
