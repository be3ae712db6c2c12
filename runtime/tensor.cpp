#include "runtime/tensor.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>

namespace pouch {

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (auto d : shape) {
    POUCH_CHECK(d >= 0, "negative dimension in {}", shape_str(shape));
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

Tensor Tensor::empty(Shape shape, DType dtype, Device device) {
  POUCH_CHECK(device == Device::CPU, "only CPU tensors can be allocated by Tensor::empty");
  Tensor t;
  t.numel_ = shape_numel(shape);
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  t.dtype_set_ = true;
  std::size_t bytes = (t.nbytes() + 63) / 64 * 64;
  if (bytes == 0) bytes = 64;
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) throw Error(fmt::format("out of memory allocating {} bytes for a tensor", bytes));
  t.storage_ = std::shared_ptr<void>(p, std::free);
  t.data_ = p;
  return t;
}

Tensor Tensor::zeros(Shape shape, DType dtype, Device device) {
  Tensor t = empty(std::move(shape), dtype, device);
  t.zero_();
  return t;
}

Tensor Tensor::wrap(void* data, Shape shape, DType dtype, Device device) {
  Tensor t;
  t.numel_ = shape_numel(shape);
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  t.dtype_set_ = true;
  t.data_ = data;
  return t;
}

Tensor Tensor::adopt(std::shared_ptr<void> storage, void* data, Shape shape, DType dtype, Device device) {
  POUCH_CHECK(storage != nullptr, "Tensor::adopt without storage (use Tensor::wrap for borrowed memory)");
  Tensor t = wrap(data, std::move(shape), dtype, device);
  t.storage_ = std::move(storage);
  return t;
}

void Tensor::throw_not_on_host(const char* op) const {
  throw Error(fmt::format(
      "Tensor::{} on a {} {} tensor on device {}: host code cannot read or write device memory; copy it to or from a "
      "host tensor with Backend::copy (or use Backend::fill / Backend::clone on the device)",
      op, dtype_name(dtype_), shape_str(shape_), device_name(device_)));
}

Tensor Tensor::view(std::int64_t offset, Shape shape) const {
  std::int64_t n = shape_numel(shape);
  POUCH_CHECK(offset >= 0 && offset + n <= numel_, "view of {} at offset {} exceeds tensor {}", shape_str(shape),
              offset, shape_str(shape_));
  Tensor t = *this;
  t.data_ = static_cast<char*>(data_) + offset * static_cast<std::int64_t>(dtype_size(dtype_));
  t.shape_ = std::move(shape);
  t.numel_ = n;
  return t;
}

Tensor Tensor::operator[](std::int64_t i) const {
  POUCH_CHECK(ndim() >= 1 && i >= 0 && i < shape_[0], "index {} out of range for {}", i, shape_str(shape_));
  Shape rest(shape_.begin() + 1, shape_.end());
  return view(i * shape_numel(rest), rest);
}

std::int64_t Tensor::dim(int i) const {
  if (i < 0) i += ndim();
  POUCH_CHECK(i >= 0 && i < ndim(), "dim {} of a {}-d tensor", i, ndim());
  return shape_[static_cast<std::size_t>(i)];
}

void Tensor::zero_() const {
  require_host("zero_()");
  if (numel_ > 0) std::memset(data_, 0, nbytes());
}

void Tensor::fill_(float value) const {
  require_host("fill_()");
  float* p = f32();
  for (std::int64_t i = 0; i < numel_; ++i) p[i] = value;
}

Tensor Tensor::clone() const {
  require_host("clone()");
  Tensor t = empty(shape_, dtype_, device_);
  if (numel_ > 0) std::memcpy(t.data_, data_, nbytes());
  return t;
}

void Tensor::copy_from(const Tensor& src) const {
  require_host("copy_from()");
  src.require_host("copy_from() source");
  POUCH_CHECK(src.numel_ == numel_ && src.dtype_ == dtype_, "copy of {} {} into {} {}", shape_str(src.shape_),
              dtype_name(src.dtype_), shape_str(shape_), dtype_name(dtype_));
  if (numel_ > 0) std::memcpy(data_, src.data_, nbytes());
}

}  // namespace pouch
