#pragma once
// LoRA adapters (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large
// Language Models") on a tensor-parallel linear layer y = x W^T + b:
//   y = x W^T + b + s (x A^T) B^T,   s = alpha / r,
//   A [r, in] ~ U(-1/sqrt(in), 1/sqrt(in))  (Kaiming-uniform with a = sqrt(5),
//     as loralib's reference code), B [out, r] = 0, so a fresh adapter
//     changes nothing and only A's gradient is zero at the first step.
// A and B live in their own ParameterStore (GPT::lora_parameters()), so an
// optimizer, a gradient reducer and a checkpoint can take just them.
//
// Tensor parallelism follows W's split:
//   Column (W split by output rows, `sections` blocks as the fused qkv):
//     A replicated, B split by rows like W. u = x A^T is computed locally
//     (x is full); out_r += s u B_r^T. Backward: du_r = s dy_r B_r is partial
//     over the group; its part of dx (du_r A) rides the layer's existing dx
//     all-reduce, and one all-reduce of du [N, r] gives the replicated dA.
//   Row (W split by input columns):
//     A split by columns like W [r, in/tp], B replicated. Forward adds
//     s (x_r A_r^T) B^T to the partial output before the layer's all-reduce,
//     which sums it to s u B^T: no extra collective. Backward recomputes
//     u = all-reduce(x_r A_r^T) [N, r] (the only extra collective), then
//     dB += s dy^T u, du = s dy B, dA_r += du^T x_r, dx_r += du A_r.
// Nothing is saved between forward and backward (u is recomputed), so
// activation checkpointing and decoding need no extra state.
#include <cstdint>
#include <string>
#include <vector>

#include "model/tensor_parallel.h"
#include "runtime/parameter_store.h"

namespace pouch {

struct LoraConfig {
  std::int64_t rank = 8;
  float alpha = 16.0f;
  // Any of "qkv", "attn_proj", "fc", "mlp_proj" (every block gets the same).
  std::vector<std::string> targets = {"qkv", "attn_proj", "fc", "mlp_proj"};
  std::uint64_t seed = 0;  // A's initialisation (Philox stream per parameter name)
};

class LoraAdapter {
 public:
  enum class Kind { Column, Row };

  // Declares `name`.lora_A [rank, in] and `name`.lora_B [out, rank] in
  // `store` (full shapes; each rank holds its shard as described above).
  LoraAdapter(ParameterStore& store, const std::string& name, Kind kind, std::int64_t in, std::int64_t out,
              std::int64_t rank, float alpha, const TensorParallelGroup& tp, int sections = 1);

  // The full tensors' initial values: A uniform (see above), B zero; each
  // rank keeps its shard, so the result does not depend on tp.
  void init_weights(Backend& be, std::uint64_t seed) const;

  // Column: out_r [N, out/tp] += s (x A^T) B_r^T, x [N, in].
  // Row:    out [N, out] (the partial sum, before the all-reduce) += s (x_r A_r^T) B^T.
  void forward_add(Backend& be, const Tensor& out, const Tensor& x);
  // dA, dB += for dL/dy = dy; dx (optional) += this adapter's input gradient
  // (Column: this rank's partial share, to be all-reduced with the base term).
  void backward(Backend& be, const Tensor& dx, const Tensor& dy, const Tensor& x);

  const std::string& name() const { return name_; }
  Kind kind() const { return kind_; }
  float scale() const { return scale_; }
  Parameter* a() const { return a_; }
  Parameter* b() const { return b_; }

 private:
  void ensure_scratch(Backend& be, std::int64_t rows);

  std::string name_;  // the base layer's name, e.g. "blocks.0.attn.qkv"
  Kind kind_;
  std::int64_t rank_;
  float scale_;
  TensorParallelGroup tp_;
  Parameter* a_;
  Parameter* b_;
  Tensor u_, du_;  // [N, rank] scratch
};

}  // namespace pouch
