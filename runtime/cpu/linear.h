#pragma once
// Fully connected layer in PyTorch's Linear layout (weight [O, I]).
#include <cstdint>

namespace pouch::cpu {

// out[N,O] = x[N,I] * w[O,I]^T + bias[O]; bias may be null.
void linear_forward(float* out, const float* x, const float* w, const float* bias, std::int64_t N, std::int64_t I,
                    std::int64_t O);

// dx[N,I] = dy[N,O] * w[O,I]      (overwritten; skipped when null)
// dw[O,I] += dy^T * x[N,I]        (skipped when null)
// dbias[O] += sum_n dy[n,:]        (skipped when null)
void linear_backward(float* dx, float* dw, float* dbias, const float* dy, const float* x, const float* w,
                     std::int64_t N, std::int64_t I, std::int64_t O);

// db[O] += sum over the N rows of dy[N,O], summed row by row in order within
// each column, so the bits do not depend on the number of threads.
void bias_backward(float* db, const float* dy, std::int64_t N, std::int64_t O);

}  // namespace pouch::cpu
