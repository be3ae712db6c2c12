#pragma once
// Fused softmax + cross-entropy: one pass for the row maximum, one for the
// exponentials (stored straight into the gradient), one to normalise.
#include <cstdint>

namespace pouch::cpu {

// For each row n of logits[N,V] with target t = targets[n]:
//   losses[n] = logsumexp(logits[n,:]) - logits[n,t]
//   dlogits[n,:] = (softmax(logits[n,:]) - onehot(t)) * grad_scale
// A target < 0 is ignored (loss 0, gradient row 0); a target >= V is a bug
// and aborts. losses or dlogits may be null; dlogits may alias logits.
// row_scale[N], when given, replaces grad_scale row by row.
void cross_entropy_forward_backward(float* losses, float* dlogits, const float* logits, const std::int32_t* targets,
                                    std::int64_t N, std::int64_t V, float grad_scale, const float* row_scale = nullptr);

}  // namespace pouch::cpu
