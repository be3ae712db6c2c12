#include "model/attention.h"

namespace pouch {

CausalSelfAttention::CausalSelfAttention(ParameterStore& store, const std::string& name, std::int64_t d_model,
                                         std::int64_t heads)
    : heads_(heads), qkv_(store, name + ".qkv", d_model, 3 * d_model), proj_(store, name + ".proj", d_model, d_model) {}

void CausalSelfAttention::forward(Backend& be, const Tensor& out, const Tensor& x, AttentionActivations& acts) const {
  qkv_.forward(be, acts.qkv, x);
  be.attention_forward(acts.att, acts.lse, acts.qkv, heads());
  proj_.forward(be, out, acts.att);
}

void CausalSelfAttention::backward(Backend& be, const Tensor& dx, const Tensor& dout, const Tensor& x,
                                   const AttentionActivations& acts, const Tensor& d_att, const Tensor& d_qkv) const {
  proj_.backward(be, d_att, dout, acts.att);
  be.attention_backward(d_qkv, d_att, acts.qkv, acts.att, acts.lse, heads());
  qkv_.backward(be, dx, d_qkv, x);
}

}  // namespace pouch
