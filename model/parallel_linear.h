#pragma once
// Linear layers y = x W^T + b (W [out, in], PyTorch layout) split over the
// tensor-parallel group as in Megatron-LM. With one rank both are a plain
// linear layer. Neither holds activations: the owner passes the saved input
// back to backward.
//
// Either may carry a LoRA adapter (model/lora.h; owned by the model, applied
// in forward, backward and decoding alike), and either may be frozen: then
// backward skips dW and db (the costly weight GEMM) but still gives dx.
#include <string>

#include "model/lora.h"
#include "model/tensor_parallel.h"
#include "runtime/parameter_store.h"

namespace pouch {

// W split by output rows: rank r computes out[:, its rows] from the whole
// input. `sections` > 1 splits each of that many row blocks separately (the
// fused qkv: rank r gets its heads of q, of k and of v). Backward all-reduces
// the input gradient over the group (Megatron's f).
class ColumnParallelLinear {
 public:
  ColumnParallelLinear(ParameterStore& store, const std::string& name, std::int64_t in, std::int64_t out,
                       const TensorParallelGroup& tp, int sections = 1);

  // out [N, out / tp] = x [N, in] W_r^T + b_r
  void forward(Backend& be, const Tensor& out, const Tensor& x) const;
  // dx [N, in] "=" all-reduce(dy W_r); dW_r, db_r +=
  void backward(Backend& be, const Tensor& dx, const Tensor& dy, const Tensor& x) const;

  std::int64_t local_out() const { return weight_->shape[0]; }
  Parameter* weight() const { return weight_; }
  Parameter* bias() const { return bias_; }
  void set_lora(LoraAdapter* lora) { lora_ = lora; }
  void set_frozen(bool frozen) { frozen_ = frozen; }

 private:
  TensorParallelGroup tp_;
  Parameter* weight_;
  Parameter* bias_;
  LoraAdapter* lora_ = nullptr;
  bool frozen_ = false;
};

// W split by input columns: rank r holds x[:, its columns] (the output of a
// column-parallel layer) and computes a partial product; forward all-reduces
// it (Megatron's g). The bias is replicated and added once (by rank 0 before
// the sum); every rank computes the same bias gradient from the full dy.
class RowParallelLinear {
 public:
  RowParallelLinear(ParameterStore& store, const std::string& name, std::int64_t in, std::int64_t out,
                    const TensorParallelGroup& tp);

  // out [N, out] = all-reduce(x_r [N, in / tp] W_r^T) + b
  void forward(Backend& be, const Tensor& out, const Tensor& x) const;
  // dx_r [N, in / tp] "=" dy W_r; dW_r, db +=
  void backward(Backend& be, const Tensor& dx, const Tensor& dy, const Tensor& x) const;

  Parameter* weight() const { return weight_; }
  Parameter* bias() const { return bias_; }
  void set_lora(LoraAdapter* lora) { lora_ = lora; }
  void set_frozen(bool frozen) { frozen_ = frozen; }

 private:
  TensorParallelGroup tp_;
  Parameter* weight_;
  Parameter* bias_;
  LoraAdapter* lora_ = nullptr;
  bool frozen_ = false;
};

}  // namespace pouch
