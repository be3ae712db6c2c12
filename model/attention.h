#pragma once
#include <string>

#include "model/parallel_linear.h"

namespace pouch {

// Activations causal self-attention saves for backward. N = B*T rows; with
// tensor parallelism each rank holds its heads only (C_r = C / tp).
struct AttentionActivations {
  Tensor qkv;  // [B, T, 3 C_r]  q | k | v of this rank's heads, heads contiguous within each
  Tensor att;  // [B, T, C_r]    attention output before the projection
  Tensor lse;  // [B, NH_r, T]   per-row log-sum-exp (all the kernel's backward needs)
};

// Causal multi-head self-attention with a fused qkv projection (GPT-2).
// qkv.weight is [3C, C]: rows q, then k, then v; within each, head h owns
// rows h*hs .. (h+1)*hs. Tensor parallelism splits it by whole heads: qkv is
// column-parallel (each of q, k, v split), proj row-parallel.
class CausalSelfAttention {
 public:
  CausalSelfAttention(ParameterStore& store, const std::string& name, std::int64_t d_model, std::int64_t heads,
                      const TensorParallelGroup& tp);

  // out [B, T, C] = proj(attention(qkv(x))), x [B, T, C]
  void forward(Backend& be, const Tensor& out, const Tensor& x, AttentionActivations& acts) const;
  // dx [B, T, C] "="; scratch d_att [B, T, C_r], d_qkv [B, T, 3 C_r]
  void backward(Backend& be, const Tensor& dx, const Tensor& dout, const Tensor& x, const AttentionActivations& acts,
                const Tensor& d_att, const Tensor& d_qkv) const;

  const ColumnParallelLinear& qkv() const { return qkv_; }
  const RowParallelLinear& proj() const { return proj_; }
  ColumnParallelLinear& qkv() { return qkv_; }
  RowParallelLinear& proj() { return proj_; }
  int local_heads() const { return static_cast<int>(local_heads_); }

 private:
  std::int64_t local_heads_;
  ColumnParallelLinear qkv_;
  RowParallelLinear proj_;
};

}  // namespace pouch
