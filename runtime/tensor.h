#pragma once
// A dense, contiguous, row-major tensor. Owning tensors hold a shared
// reference to an aligned allocation; views (Tensor::view, Tensor::wrap)
// share or borrow memory without copying. No strides: every kernel in pouch
// works on contiguous buffers, and a sub-tensor is a contiguous slice.
//
// Device: every tensor says where its memory lives. The host accessors
// (f32(), i32(), data<T>()) and the host-side operations (zero_(), fill_(),
// clone(), copy_from()) work on CPU tensors only and throw pouch::Error for
// any other device, so a host dereference of device memory fails at its
// cause instead of segfaulting later. Device memory is filled, copied and
// cloned through Backend::fill, Backend::copy and Backend::clone. raw() is
// unchecked: it is what kernels, communicators and file I/O hand on.
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
  // An owning tensor over memory a backend allocated: `storage` keeps it
  // alive (its deleter returns it to the backend), `data` is the first
  // element (it may lie inside storage, as for a pooled block).
  static Tensor adopt(std::shared_ptr<void> storage, void* data, Shape shape, DType dtype, Device device);

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

  bool on_host() const { return device_ == Device::CPU; }

  // Unchecked: any device (kernels, communicators, HDF5).
  void* raw() const { return data_; }
  // Host accessors: CPU tensors only (see the top of this file).
  template <typename T>
  T* data() const {
    return host_data<T>("data()");
  }
  float* f32() const { return host_data<float>("f32()"); }
  std::int32_t* i32() const { return host_data<std::int32_t>("i32()"); }

  // Host-side operations: CPU tensors only; Backend::fill, copy and clone
  // are the forms for any device.
  void zero_() const;
  void fill_(float value) const;
  // Deep copy into a new owning host tensor.
  Tensor clone() const;
  void copy_from(const Tensor& src) const;

 private:
  // One compare, kept in release builds: the throw is out of line.
  void require_host(const char* op) const {
    if (device_ != Device::CPU) [[unlikely]]
      throw_not_on_host(op);
  }
  [[noreturn]] void throw_not_on_host(const char* op) const;
  template <typename T>
  T* host_data(const char* op) const {
    require_host(op);
    POUCH_DCHECK(dtype_of<T>() == dtype_, "tensor dtype is {}", dtype_name(dtype_));
    return static_cast<T*>(data_);
  }

  std::shared_ptr<void> storage_;  // null for wrapped memory
  void* data_ = nullptr;
  Shape shape_;
  std::int64_t numel_ = 0;
  DType dtype_ = DType::F32;
  Device device_ = Device::CPU;
  bool dtype_set_ = false;
};

}  // namespace pouch
