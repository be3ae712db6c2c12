#include "model/value_head.h"

namespace pouch {

ValueHead::ValueHead(ParameterStore& store, const std::string& name, std::int64_t d_model) : d_model_(d_model) {
  weight_ = store.add(name + ".weight", {1, d_model});
  bias_ = store.add(name + ".bias", {1});
}

void ValueHead::forward(Backend& be, const Tensor& hidden, const Tensor& values) const {
  const std::int64_t N = hidden.numel() / d_model_;
  POUCH_CHECK(values.numel() == N, "value head: values {} for hidden {}", shape_str(values.shape()),
              shape_str(hidden.shape()));
  be.linear_forward(values.reshape({N, 1}), hidden.reshape({N, d_model_}), weight_->value, bias_->value);
}

void ValueHead::backward(Backend& be, const Tensor& dvalues, const Tensor& hidden, const Tensor& dhidden) const {
  const std::int64_t N = hidden.numel() / d_model_;
  POUCH_CHECK(dvalues.numel() == N, "value head: dvalues {} for hidden {}", shape_str(dvalues.shape()),
              shape_str(hidden.shape()));
  const Tensor dv = dvalues.reshape({N, 1}), x = hidden.reshape({N, d_model_});
  be.linear_backward(Tensor(), weight_->grad, bias_->grad, dv, x, weight_->value);
  if (dhidden.defined()) be.matmul(dhidden.reshape({N, d_model_}), dv, weight_->value, false, false, 1.0f, 1.0f);
}

}  // namespace pouch
