#pragma once
#include <string>

#include "runtime/parameter_store.h"

namespace pouch {

// LayerNorm over the last dimension (Ba et al. 2016), eps = 1e-5 as PyTorch.
class LayerNorm {
 public:
  LayerNorm(ParameterStore& store, const std::string& name, std::int64_t channels, float eps);

  // out [N, C]; mean, rstd [N] saved for backward (may be undefined at inference)
  void forward(Backend& be, const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& x) const;
  // dx [N, C] += (accumulates into the residual-stream gradient)
  void backward(Backend& be, const Tensor& dx, const Tensor& dy, const Tensor& x, const Tensor& mean,
                const Tensor& rstd) const;

  Parameter* weight() const { return weight_; }
  Parameter* bias() const { return bias_; }
  // Frozen: backward gives dx only (no dw, db).
  void set_frozen(bool frozen) { frozen_ = frozen; }

 private:
  bool frozen_ = false;
  float eps_;
  Parameter* weight_;
  Parameter* bias_;
};

}  // namespace pouch
