#pragma once
// AdamW (Loshchilov & Hutter 2019) with torch.optim.AdamW's arithmetic.
#include <cstdint>

namespace pouch::cpu {

struct AdamWStep {
  float lr, beta1, beta2, eps, weight_decay;
  long step;         // 1-based
  float grad_scale;  // grad is multiplied by this first
};

// Per element, with t = step:
//   g = grad * grad_scale
//   p *= 1 - lr * wd
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   p -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// Every element takes the same arithmetic path (no FMA in the vector body),
// so the result of an element does not depend on where it sits in the array.
void adamw_update(float* param, const float* grad, float* m, float* v, std::int64_t n, const AdamWStep& hp);

}  // namespace pouch::cpu
