#include "model/attention.h"

namespace pouch {

CausalSelfAttention::CausalSelfAttention(ParameterStore& store, const std::string& name, std::int64_t d_model,
                                         std::int64_t heads, const TensorParallelGroup& tp)
    : local_heads_(heads / tp.size()),
      qkv_(store, name + ".qkv", d_model, 3 * d_model, tp, 3),
      proj_(store, name + ".proj", d_model, d_model, tp) {
  POUCH_CHECK(heads % tp.size() == 0, "{} heads do not split over {} tensor-parallel ranks", heads, tp.size());
}

void CausalSelfAttention::forward(Backend& be, const Tensor& out, const Tensor& x, AttentionActivations& acts) const {
  qkv_.forward(be, acts.qkv, x);
  be.attention_forward(acts.att, acts.lse, acts.qkv, local_heads());
  proj_.forward(be, out, acts.att);
}

void CausalSelfAttention::backward(Backend& be, const Tensor& dx, const Tensor& dout, const Tensor& x,
                                   const AttentionActivations& acts, const Tensor& d_att, const Tensor& d_qkv) const {
  proj_.backward(be, d_att, dout, acts.att);
  be.attention_backward(d_qkv, d_att, acts.qkv, acts.att, acts.lse, local_heads());
  qkv_.backward(be, dx, d_qkv, x);
}

}  // namespace pouch
