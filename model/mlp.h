#pragma once
#include <string>

#include "model/linear.h"

namespace pouch {

struct MlpActivations {
  Tensor fc;    // [B, T, 4C] pre-activation
  Tensor gelu;  // [B, T, 4C]
};

// out = proj(GELU_tanh(fc(x))), hidden width 4C. Under tensor parallelism
// (later) fc becomes column-parallel and proj row-parallel.
class MLP {
 public:
  MLP(ParameterStore& store, const std::string& name, std::int64_t d_model);

  void forward(Backend& be, const Tensor& out, const Tensor& x, MlpActivations& acts) const;
  // dx "="; scratch d_hidden [B, T, 4C]
  void backward(Backend& be, const Tensor& dx, const Tensor& dout, const Tensor& x, const MlpActivations& acts,
                const Tensor& d_hidden) const;

  const Linear& fc() const { return fc_; }
  const Linear& proj() const { return proj_; }

 private:
  Linear fc_;
  Linear proj_;
};

}  // namespace pouch
