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
}

void ColumnParallelLinear::backward(Backend& be, const Tensor& dx, const Tensor& dy, const Tensor& x) const {
  be.linear_backward(dx, weight_->grad, bias_->grad, dy, x, weight_->value);
  if (dx.defined()) tp_.all_reduce_sum(dx);
}

RowParallelLinear::RowParallelLinear(ParameterStore& store, const std::string& name, std::int64_t in,
                                     std::int64_t out, const TensorParallelGroup& tp)
    : tp_(tp) {
  weight_ = store.add(name + ".weight", {out, in}, tp.columns());
  bias_ = store.add(name + ".bias", {out});
}

void RowParallelLinear::forward(Backend& be, const Tensor& out, const Tensor& x) const {
  be.linear_forward(out, x, weight_->value, tp_.rank() == 0 ? bias_->value : Tensor());
  tp_.all_reduce_sum(out);
}

void RowParallelLinear::backward(Backend& be, const Tensor& dx, const Tensor& dy, const Tensor& x) const {
  be.linear_backward(dx, weight_->grad, bias_->grad, dy, x, weight_->value);
}

}  // namespace pouch
