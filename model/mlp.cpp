#include "model/mlp.h"

namespace pouch {

MLP::MLP(ParameterStore& store, const std::string& name, std::int64_t d_model, const TensorParallelGroup& tp)
    : fc_(store, name + ".fc", d_model, 4 * d_model, tp), proj_(store, name + ".proj", 4 * d_model, d_model, tp) {}

void MLP::forward(Backend& be, const Tensor& out, const Tensor& x, MlpActivations& acts) const {
  fc_.forward(be, acts.fc, x);
  be.gelu_forward(acts.gelu, acts.fc);
  proj_.forward(be, out, acts.gelu);
}

void MLP::backward(Backend& be, const Tensor& dx, const Tensor& dout, const Tensor& x, const MlpActivations& acts,
                   const Tensor& d_hidden) const {
  proj_.backward(be, d_hidden, dout, acts.gelu);
  be.gelu_backward(d_hidden, d_hidden, acts.fc);
  fc_.backward(be, dx, d_hidden, x);
}

}  // namespace pouch
