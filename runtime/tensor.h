#pragma once
// A dense, contiguous, row-major tensor. Owning tensors hold a shared
// reference to an aligned allocation; views (Tensor::view, Tensor::wrap)
// share or borrow memory without copying. No strides: every kernel in pouch
// works on contiguous buffers, and a sub-tensor is a contiguous slice.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "runtime/dtype.h"
#include "runtime/error.h"

namespace pouch {

using Shape = std::vector<std::int64_t>;

std::int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;

  // Uninitialised owning tensor (64-byte aligned).
  static Tensor empty(Shape shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor zeros(Shape shape, DType dtype = DType::F32, Device device = Device::CPU);
  // Non-owning view of memory someone else keeps alive.
  static Tensor wrap(void* data, Shape shape, DType dtype = DType::F32, Device device = Device::CPU);

  // A view of `shape` starting `offset` elements into this tensor's memory;
  // shares (and keeps alive) the same allocation.
  Tensor view(std::int64_t offset, Shape shape) const;
  // Same memory, another shape with the same element count.
  Tensor reshape(Shape shape) const { return view(0, std::move(shape)); }
  // Row `i` along the first dimension.
  Tensor operator[](std::int64_t i) const;

  bool defined() const { return dtype_set_; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  std::int64_t dim(int i) const;
  std::int64_t numel() const { return numel_; }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel_) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }

  void* raw() const { return data_; }
  template <typename T>
  T* data() const {
    POUCH_DCHECK(dtype_of<T>() == dtype_, "tensor dtype is {}", dtype_name(dtype_));
    return static_cast<T*>(data_);
  }
  float* f32() const { return data<float>(); }
  std::int32_t* i32() const { return data<std::int32_t>(); }

  void zero_() const;
  void fill_(float value) const;
  // Deep copy into a new owning tensor.
  Tensor clone() const;
  void copy_from(const Tensor& src) const;

 private:
  std::shared_ptr<void> storage_;  // null for wrapped memory
  void* data_ = nullptr;
  Shape shape_;
  std::int64_t numel_ = 0;
  DType dtype_ = DType::F32;
  Device device_ = Device::CPU;
  bool dtype_set_ = false;
};

}  // namespace pouch
