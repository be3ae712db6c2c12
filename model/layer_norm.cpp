#include "model/layer_norm.h"

namespace pouch {

LayerNorm::LayerNorm(ParameterStore& store, const std::string& name, std::int64_t channels, float eps) : eps_(eps) {
  weight_ = store.add(name + ".weight", {channels});
  bias_ = store.add(name + ".bias", {channels});
}

void LayerNorm::forward(Backend& be, const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& x) const {
  be.layernorm_forward(out, mean, rstd, x, weight_->value, bias_->value, eps_);
}

void LayerNorm::backward(Backend& be, const Tensor& dx, const Tensor& dy, const Tensor& x, const Tensor& mean,
                         const Tensor& rstd) const {
  be.layernorm_backward(dx, frozen_ ? Tensor() : weight_->grad, frozen_ ? Tensor() : bias_->grad, dy, x, weight_->value,
                        mean, rstd);
}

}  // namespace pouch
