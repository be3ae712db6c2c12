#pragma once
// All parameters of a model live in one flat buffer, and all gradients in a
// second one of the same layout, in registration order. The optimizer then
// walks contiguous memory, and the data-parallel gradient reducer can cut the
// gradient buffer into buckets without copying.
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "runtime/backend.h"
#include "runtime/tensor.h"
#include "runtime/tensor_shard.h"

namespace pouch {

struct Parameter {
  std::string name;         // checkpoint dataset name, e.g. "blocks.0.attn.qkv.weight"
  Shape full_shape;         // the logical tensor; PyTorch layout: Linear weights are [out, in]
  ShardSpec shard;          // how tensor parallelism splits it (runtime/tensor_shard.h)
  Shape shape;              // this rank's shard of it (= full_shape when replicated)
  Tensor value;             // view into ParameterStore::values()
  Tensor grad;              // view into ParameterStore::grads(), same offset
  std::int64_t offset = 0;  // elements from the start of the flat buffers
  bool decay = false;       // weight decay applies (tensors with >= 2 dims, as nanoGPT)
  float lr_scale = 1.0f;    // the optimizer's learning rate is multiplied by this (LoRA+ raises B's)
};

class ParameterStore {
 public:
  // Declares a parameter of logical shape `full_shape`, of which this rank
  // holds the shard `shard` describes; its tensors are bound by allocate().
  // The returned pointer stays valid for the store's lifetime.
  Parameter* add(std::string name, Shape full_shape, ShardSpec shard = ShardSpec::replicated());
  // Allocates the flat value and gradient buffers (zeroed) on `backend` and
  // binds every parameter's views. Called once, after all add() calls. The
  // store keeps the backend for zero_grad(): it must outlive the store.
  void allocate(Backend& backend);

  bool allocated() const { return values_.defined(); }
  std::size_t size() const { return params_.size(); }
  Parameter& operator[](std::size_t i) { return params_[i]; }
  const Parameter& operator[](std::size_t i) const { return params_[i]; }
  std::deque<Parameter>::iterator begin() { return params_.begin(); }
  std::deque<Parameter>::iterator end() { return params_.end(); }
  std::deque<Parameter>::const_iterator begin() const { return params_.begin(); }
  std::deque<Parameter>::const_iterator end() const { return params_.end(); }
  Parameter* find(const std::string& name);

  const Tensor& values() const { return values_; }
  const Tensor& grads() const { return grads_; }
  std::int64_t numel() const;       // elements this rank holds (without alignment padding)
  std::int64_t full_numel() const;  // elements of the logical model
  // grads = 0 on the backend's stream (nothing before allocate()).
  void zero_grad() {
    if (allocated()) backend_->fill(grads_, 0.0f);
  }

 private:
  std::deque<Parameter> params_;
  Backend* backend_ = nullptr;
  Tensor values_;
  Tensor grads_;
  std::int64_t total_ = 0;  // flat length including alignment padding
};

}  // namespace pouch
