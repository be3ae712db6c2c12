#pragma once
#include <string>

#include "runtime/parameter_store.h"

namespace pouch {

// y = x W^T + b, W [out, in] (PyTorch layout). Holds no activations: the
// owner passes the saved input back to backward. Tensor parallelism (a later
// issue) wraps this as ColumnParallelLinear / RowParallelLinear.
class Linear {
 public:
  Linear(ParameterStore& store, const std::string& name, std::int64_t in, std::int64_t out, bool bias = true);

  // out [N, out] = x [N, in] W^T + b
  void forward(Backend& be, const Tensor& out, const Tensor& x) const;
  // dx [N, in] = dy W ("=", optional); dW += dy^T x; db += sum_rows dy
  void backward(Backend& be, const Tensor& dx, const Tensor& dy, const Tensor& x) const;

  std::int64_t in_features() const { return in_; }
  std::int64_t out_features() const { return out_; }
  Parameter* weight() const { return weight_; }
  Parameter* bias() const { return bias_; }

 private:
  std::int64_t in_, out_;
  Parameter* weight_;
  Parameter* bias_ = nullptr;
};

}  // namespace pouch
