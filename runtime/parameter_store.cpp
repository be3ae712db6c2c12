#include "runtime/parameter_store.h"

namespace pouch {

namespace {
// Each parameter starts on a 64-byte boundary so vector kernels see aligned rows.
constexpr std::int64_t kAlignFloats = 16;
}  // namespace

Parameter* ParameterStore::add(std::string name, Shape full_shape, ShardSpec shard) {
  POUCH_CHECK(!allocated(), "parameter {} added after allocation", name);
  POUCH_CHECK(find(name) == nullptr, "parameter {} declared twice", name);
  Parameter p;
  p.name = std::move(name);
  p.decay = full_shape.size() >= 2;
  p.shape = shard_shape(shard, full_shape);
  p.full_shape = std::move(full_shape);
  p.shard = shard;
  p.offset = total_;
  total_ += (shape_numel(p.shape) + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
  params_.push_back(std::move(p));
  return &params_.back();
}

void ParameterStore::allocate(Backend& backend) {
  POUCH_CHECK(!allocated(), "parameters allocated twice");
  backend_ = &backend;
  values_ = backend.zeros({total_});
  grads_ = backend.zeros({total_});
  for (auto& p : params_) {
    p.value = values_.view(p.offset, p.shape);
    p.grad = grads_.view(p.offset, p.shape);
  }
}

Parameter* ParameterStore::find(const std::string& name) {
  for (auto& p : params_)
    if (p.name == name) return &p;
  return nullptr;
}

std::int64_t ParameterStore::numel() const {
  std::int64_t n = 0;
  for (const auto& p : params_) n += shape_numel(p.shape);
  return n;
}

std::int64_t ParameterStore::full_numel() const {
  std::int64_t n = 0;
  for (const auto& p : params_) n += shape_numel(p.full_shape);
  return n;
}

}  // namespace pouch
