#pragma once
// GELU, tanh approximation (Hendrycks & Gimpel 2016), as GPT-2 and PyTorch's
// gelu(approximate="tanh"):
//   gelu(x) = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
// computed as x * sigmoid(2u), the same function without tanh's cancellation.
#include <cstdint>

namespace pouch::cpu {

// out[n] = gelu(x[n]); out may alias x.
void gelu_forward(float* out, const float* x, std::int64_t n);

// dx[n] = dy[n] * gelu'(x[n]) ("="); dx may alias dy. With s = sigmoid(2u):
//   gelu'(x) = s + 2 x s (1 - s) du/dx,  du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
void gelu_backward(float* dx, const float* dy, const float* x, std::int64_t n);

}  // namespace pouch::cpu
