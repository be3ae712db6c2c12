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

// Megatron's async dgrad all-reduce: dx first, its all-reduce issued, then
// dW and db (which do not read dx) computed while it runs; the wait comes
// last. The GEMMs are the fused call's, so the numbers are the same bits.
void ColumnParallelLinear::backward(Backend& be, const Tensor& dx, const Tensor& dy, const Tensor& x) const {
  const Tensor dw = frozen_ ? Tensor() : weight_->grad, db = frozen_ ? Tensor() : bias_->grad;
  if (!dx.defined()) {
    be.linear_backward(Tensor(), dw, db, dy, x, weight_->value);
    if (lora_ != nullptr) lora_->backward(be, dx, dy, x);
    return;
  }
  be.linear_backward(dx, Tensor(), Tensor(), dy, x, weight_->value);
  // The adapter's share of dx is partial over the group too: it joins the all-reduce below.
  if (lora_ != nullptr) lora_->backward(be, dx, dy, x);
  const WorkHandle reduce = tp_.all_reduce_sum_async(dx);
  if (dw.defined() || db.defined()) be.linear_backward(Tensor(), dw, db, dy, x, weight_->value);
  if (reduce) reduce->wait();
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
