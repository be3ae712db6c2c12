#include "model/block.h"

namespace pouch {

namespace {
void ensure_shape(Backend& be, Tensor& t, const Shape& shape) {
  if (!t.defined() || t.shape() != shape) t = be.empty(shape);
}
}  // namespace

void BlockActivations::ensure(Backend& be, std::int64_t B, std::int64_t T, const BlockDims& d) {
  ensure_shape(be, ln1, {B, T, d.C});
  ensure_shape(be, ln1_mean, {B * T});
  ensure_shape(be, ln1_rstd, {B * T});
  ensure_shape(be, attn.qkv, {B, T, 3 * d.C_local});
  ensure_shape(be, attn.att, {B, T, d.C_local});
  ensure_shape(be, attn.lse, {B, d.heads_local, T});
  ensure_shape(be, resid_mid, {B, T, d.C});
  ensure_shape(be, ln2, {B, T, d.C});
  ensure_shape(be, ln2_mean, {B * T});
  ensure_shape(be, ln2_rstd, {B * T});
  ensure_shape(be, mlp.fc, {B, T, 4 * d.C_local});
  ensure_shape(be, mlp.gelu, {B, T, 4 * d.C_local});
}

void BlockGradScratch::ensure(Backend& be, std::int64_t B, std::int64_t T, const BlockDims& d) {
  ensure_shape(be, d_ln, {B, T, d.C});
  ensure_shape(be, d_att, {B, T, d.C_local});
  ensure_shape(be, d_qkv, {B, T, 3 * d.C_local});
  ensure_shape(be, d_hidden, {B, T, 4 * d.C_local});
}

void DecodeScratch::ensure(Backend& be, std::int64_t B, const BlockDims& d) {
  ensure_shape(be, ln, {B, d.C});
  ensure_shape(be, qkv, {B, 3 * d.C_local});
  ensure_shape(be, q, {B, d.C_local});
  ensure_shape(be, att, {B, d.C_local});
  ensure_shape(be, branch, {B, d.C});
  ensure_shape(be, hidden, {B, 4 * d.C_local});
}

Block::Block(ParameterStore& store, const std::string& name, std::int64_t d_model, std::int64_t heads, float ln_eps,
             const TensorParallelGroup& tp)
    : dims_{d_model, d_model / tp.size(), heads / tp.size()},
      ln1_(store, name + ".ln1", d_model, ln_eps),
      attn_(store, name + ".attn", d_model, heads, tp),
      ln2_(store, name + ".ln2", d_model, ln_eps),
      mlp_(store, name + ".mlp", d_model, tp) {}

void Block::set_frozen(bool frozen) {
  ln1_.set_frozen(frozen);
  attn_.qkv().set_frozen(frozen);
  attn_.proj().set_frozen(frozen);
  ln2_.set_frozen(frozen);
  mlp_.fc().set_frozen(frozen);
  mlp_.proj().set_frozen(frozen);
}

void Block::forward(Backend& be, const Tensor& out, const Tensor& x, BlockActivations& a) const {
  ln1_.forward(be, a.ln1, a.ln1_mean, a.ln1_rstd, x);
  attn_.forward(be, a.resid_mid, a.ln1, a.attn);
  be.add(a.resid_mid, a.resid_mid, x);
  ln2_.forward(be, a.ln2, a.ln2_mean, a.ln2_rstd, a.resid_mid);
  mlp_.forward(be, out, a.ln2, a.mlp);
  be.add(out, out, a.resid_mid);
}

void Block::backward(Backend& be, const Tensor& dres, const Tensor& x, const BlockActivations& a,
                     const BlockGradScratch& s) const {
  // dres = dL/d(out). The MLP branch adds ln2's input gradient to it, which
  // makes it dL/d(resid_mid); the attention branch then adds ln1's.
  mlp_.backward(be, s.d_ln, dres, a.ln2, a.mlp, s.d_hidden);
  ln2_.backward(be, dres, s.d_ln, a.resid_mid, a.ln2_mean, a.ln2_rstd);
  attn_.backward(be, s.d_ln, dres, a.ln1, a.attn, s.d_att, s.d_qkv);
  ln1_.backward(be, dres, s.d_ln, x, a.ln1_mean, a.ln1_rstd);
}

void Block::decode(Backend& be, const Tensor& x, std::span<const std::int64_t> positions, std::span<const LayerKV> kv,
                   const DecodeScratch& s) const {
  const std::int64_t B = x.dim(0), C = dims_.C_local;
  POUCH_CHECK(static_cast<std::int64_t>(positions.size()) == B && static_cast<std::int64_t>(kv.size()) == B,
              "decode batch {} with {} positions and {} caches", B, positions.size(), kv.size());
  ln1_.forward(be, s.ln, Tensor(), Tensor(), x);
  attn_.qkv().forward(be, s.qkv, s.ln);
  // Split the fused projection qkv [B, 3C]: q (columns [0, C)) to its own
  // buffer [B, C], k and v into each row's cache at its position.
  be.copy_2d(s.q, C, s.qkv, 3 * C, B, C);
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t pos = positions[b], Tmax = kv[b].k.dim(1);
    POUCH_CHECK(pos >= 0 && pos < Tmax, "decode position {} beyond the cache length {}", pos, Tmax);
    be.copy(kv[b].k.view(pos * C, {C}), s.qkv.view(b * 3 * C + C, {C}));
    be.copy(kv[b].v.view(pos * C, {C}), s.qkv.view(b * 3 * C + 2 * C, {C}));
    be.attention_decode(s.att.view(b * C, {1, C}), s.q.view(b * C, {1, C}), kv[b].k, kv[b].v, pos + 1,
                        attn_.local_heads());
  }
  attn_.proj().forward(be, s.branch, s.att);
  be.add(x, x, s.branch);
  ln2_.forward(be, s.ln, Tensor(), Tensor(), x);
  mlp_.fc().forward(be, s.hidden, s.ln);
  be.gelu_forward(s.hidden, s.hidden);
  mlp_.proj().forward(be, s.branch, s.hidden);
  be.add(x, x, s.branch);
}

}  // namespace pouch
