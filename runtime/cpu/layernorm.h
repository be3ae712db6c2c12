#pragma once
// LayerNorm over the last dimension (Ba et al. 2016), PyTorch semantics:
// biased variance, eps inside the square root.
#include <cstdint>

namespace pouch::cpu {

// out[N,C] = (x - mean) * rstd * w + b, rstd = 1/sqrt(var + eps).
// mean[N] and rstd[N] are saved for backward; either may be null.
void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* w, const float* b,
                       std::int64_t N, std::int64_t C, float eps);

// With xhat = (x - mean) * rstd and g = dy * w:
//   dx[N,C] += rstd * (g - mean_c(g) - xhat * mean_c(g * xhat))
//   dw[C]   += sum_n dy * xhat,   db[C] += sum_n dy
// Any of dx, dw, db may be null. dw and db are summed over fixed chunks of
// rows and the chunks then in order, so their bits do not depend on threads.
void layernorm_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                        const float* mean, const float* rstd, std::int64_t N, std::int64_t C);

}  // namespace pouch::cpu
