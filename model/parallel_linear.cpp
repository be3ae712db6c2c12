#include "model/parallel_linear.h"

namespace pouch {

ColumnParallelLinear::ColumnParallelLinear(ParameterStore& store, const std::string& name, std::int64_t in,
                                           std::int64_t out, const TensorParallelGroup& tp, int sections)
    : tp_(tp) {
  weight_ = store.add(name + ".weight", {out, in}, tp.rows(sections));
  bias_ = store.add(name + ".bias", {out}, tp.rows(sections));
}

void ColumnParallelLinear::forward(Backend& be, const Tensor& out, const Tensor& x) const {
  be.linear_forward(out, x, weight_->value, bias_->value);
  if (lora_ != nullptr) lora_->forward_add(be, out, x);
}

void ColumnParallelLinear::backward(Backend& be, const Tensor& dx, const Tensor& dy, const Tensor& x) const {
  be.linear_backward(dx, frozen_ ? Tensor() : weight_->grad, frozen_ ? Tensor() : bias_->grad, dy, x, weight_->value);
  // The adapter's share of dx is partial over the group too: it joins the all-reduce below.
  if (lora_ != nullptr) lora_->backward(be, dx, dy, x);
  if (dx.defined()) tp_.all_reduce_sum(dx);
}

RowParallelLinear::RowParallelLinear(ParameterStore& store, const std::string& name, std::int64_t in, std::int64_t out,
                                     const TensorParallelGroup& tp)
    : tp_(tp) {
  weight_ = store.add(name + ".weight", {out, in}, tp.columns());
  bias_ = store.add(name + ".bias", {out});
}

void RowParallelLinear::forward(Backend& be, const Tensor& out, const Tensor& x) const {
  be.linear_forward(out, x, weight_->value, tp_.rank() == 0 ? bias_->value : Tensor());
  // The adapter adds its partial product before the sum, so it needs no collective of its own.
  if (lora_ != nullptr) lora_->forward_add(be, out, x);
  tp_.all_reduce_sum(out);
}

void RowParallelLinear::backward(Backend& be, const Tensor& dx, const Tensor& dy, const Tensor& x) const {
  be.linear_backward(dx, frozen_ ? Tensor() : weight_->grad, frozen_ ? Tensor() : bias_->grad, dy, x, weight_->value);
  if (lora_ != nullptr) lora_->backward(be, dx, dy, x);
}

}  // namespace pouch
