#pragma once
#include <string>

#include "model/linear.h"

namespace pouch {

// Activations causal self-attention saves for backward. N = B*T rows.
struct AttentionActivations {
  Tensor qkv;  // [B, T, 3C]  q | k | v, heads contiguous within each
  Tensor att;  // [B, T, C]   attention output before the projection
  Tensor lse;  // [B, NH, T]  per-row log-sum-exp (all the kernel's backward needs)
};

// Causal multi-head self-attention with a fused qkv projection (GPT-2).
// qkv.weight is [3C, C]: rows q, then k, then v; within each, head h owns
// rows h*hs .. (h+1)*hs. Under tensor parallelism (later) qkv becomes
// column-parallel over whole heads and proj row-parallel.
class CausalSelfAttention {
 public:
  CausalSelfAttention(ParameterStore& store, const std::string& name, std::int64_t d_model, std::int64_t heads);

  // out [B, T, C] = proj(attention(qkv(x))), x [B, T, C]
  void forward(Backend& be, const Tensor& out, const Tensor& x, AttentionActivations& acts) const;
  // dx [B, T, C] "="; scratch d_att [B, T, C], d_qkv [B, T, 3C]
  void backward(Backend& be, const Tensor& dx, const Tensor& dout, const Tensor& x, const AttentionActivations& acts,
                const Tensor& d_att, const Tensor& d_qkv) const;

  const Linear& qkv() const { return qkv_; }
  const Linear& proj() const { return proj_; }
  int heads() const { return static_cast<int>(heads_); }

 private:
  std::int64_t heads_;
  Linear qkv_;
  Linear proj_;
};

}  // namespace pouch
