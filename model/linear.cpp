#include "model/linear.h"

namespace pouch {

Linear::Linear(ParameterStore& store, const std::string& name, std::int64_t in, std::int64_t out, bool bias)
    : in_(in), out_(out) {
  weight_ = store.add(name + ".weight", {out, in});
  if (bias) bias_ = store.add(name + ".bias", {out});
}

void Linear::forward(Backend& be, const Tensor& out, const Tensor& x) const {
  be.linear_forward(out, x, weight_->value, bias_ ? bias_->value : Tensor());
}

void Linear::backward(Backend& be, const Tensor& dx, const Tensor& dy, const Tensor& x) const {
  be.linear_backward(dx, weight_->grad, bias_ ? bias_->grad : Tensor(), dy, x, weight_->value);
}

}  // namespace pouch
