#pragma once
#include <span>
#include <string>

#include "model/attention.h"
#include "model/layer_norm.h"
#include "model/mlp.h"

namespace pouch {

// Widths of one rank's share of a block: the residual stream is replicated
// (C), attention and MLP internals are split over the tensor-parallel group.
struct BlockDims {
  std::int64_t C;        // d_model
  std::int64_t C_local;  // C / tp: this rank's heads' width
  std::int64_t heads_local;
};

// What one block saves in forward for its backward. N = B*T.
struct BlockActivations {
  Tensor ln1, ln1_mean, ln1_rstd;  // [N, C], [N], [N]
  AttentionActivations attn;
  Tensor resid_mid;                // [N, C]  x + attn(ln1(x))
  Tensor ln2, ln2_mean, ln2_rstd;  // [N, C], [N], [N]
  MlpActivations mlp;

  // (Re)allocates for a batch shape; a no-op when the shape is unchanged.
  void ensure(Backend& be, std::int64_t B, std::int64_t T, const BlockDims& d);
  std::int64_t rows() const { return resid_mid.defined() ? resid_mid.dim(0) * resid_mid.dim(1) : 0; }
};

// Gradient scratch shared by all blocks (only one block is in backward at a time).
struct BlockGradScratch {
  Tensor d_ln;      // [B, T, C]
  Tensor d_att;     // [B, T, C_r]
  Tensor d_qkv;     // [B, T, 3 C_r]
  Tensor d_hidden;  // [B, T, 4 C_r]

  void ensure(Backend& be, std::int64_t B, std::int64_t T, const BlockDims& d);
};

// Keys and values of one layer (this rank's heads) for incremental decoding:
// [B, Tmax, C_r] each.
struct LayerKV {
  Tensor k, v;
};

// Per-step buffers of incremental decoding, B sequences of one token.
struct DecodeScratch {
  Tensor ln, qkv, q, att, branch, hidden;  // [B,C] [B,3C_r] [B,C_r] [B,C_r] [B,C] [B,4C_r]
  void ensure(Backend& be, std::int64_t B, const BlockDims& d);
};

// Pre-LayerNorm transformer block (GPT-2):
//   h = x + attn(ln1(x));  out = h + mlp(ln2(h))
class Block {
 public:
  Block(ParameterStore& store, const std::string& name, std::int64_t d_model, std::int64_t heads, float ln_eps,
        const TensorParallelGroup& tp);

  // out, x [B, T, C]
  void forward(Backend& be, const Tensor& out, const Tensor& x, BlockActivations& acts) const;
  // dres [B, T, C]: on entry dL/d(out), on return dL/d(x) (updated in place,
  // since the residual connection passes it through). Parameter grads +=.
  void backward(Backend& be, const Tensor& dres, const Tensor& x, const BlockActivations& acts,
                const BlockGradScratch& scratch) const;
  // x [B, C] in/out: the block applied to the token at position `pos` of each
  // sequence, appending its key and value to the cache.
  // One token of each of B sequences: x [B, C] (updated in place). Row b is
  // at position positions[b] of its own cache kv[b] (k, v [1, Tmax, C_r]):
  // its k and v are written there and it attends to [0, positions[b]].
  // Sequences of different lengths share every projection GEMM.
  void decode(Backend& be, const Tensor& x, std::span<const std::int64_t> positions, std::span<const LayerKV> kv,
              const DecodeScratch& s) const;

  const BlockDims& dims() const { return dims_; }
  CausalSelfAttention& attn() { return attn_; }
  MLP& mlp() { return mlp_; }
  // Frozen: backward computes input gradients only, no parameter gradients.
  void set_frozen(bool frozen);

 private:
  BlockDims dims_;
  LayerNorm ln1_;
  CausalSelfAttention attn_;
  LayerNorm ln2_;
  MLP mlp_;
};

}  // namespace pouch
