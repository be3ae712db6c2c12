#pragma once
#include <string>

#include "model/parallel_linear.h"

namespace pouch {

struct MlpActivations {
  Tensor fc;    // [B, T, 4C / tp] pre-activation
  Tensor gelu;  // [B, T, 4C / tp]
};

// out = proj(GELU_tanh(fc(x))), hidden width 4C: fc column-parallel, proj
// row-parallel, so the hidden activations stay split over the group.
class MLP {
 public:
  MLP(ParameterStore& store, const std::string& name, std::int64_t d_model, const TensorParallelGroup& tp);

  void forward(Backend& be, const Tensor& out, const Tensor& x, MlpActivations& acts) const;
  // dx "="; scratch d_hidden [B, T, 4C / tp]
  void backward(Backend& be, const Tensor& dx, const Tensor& dout, const Tensor& x, const MlpActivations& acts,
                const Tensor& d_hidden) const;

  const ColumnParallelLinear& fc() const { return fc_; }
  const RowParallelLinear& proj() const { return proj_; }
  ColumnParallelLinear& fc() { return fc_; }
  RowParallelLinear& proj() { return proj_; }

 private:
  ColumnParallelLinear fc_;
  RowParallelLinear proj_;
};

}  // namespace pouch
