// CpuBackend's memory and ordering calls. Host memory throughout: copies are
// memcpy, events are timestamps (runtime/cpu/cpu_event.h), waits return at
// once. Tensors of another device are refused: a CPU backend cannot reach
// them.
#include <cmath>
#include <cstring>

#include "runtime/cpu/cpu_backend.h"
#include "runtime/cpu/cpu_event.h"

namespace pouch {
namespace {

void require_host_tensor(const Tensor& t, const char* op, const char* name) {
  POUCH_CHECK(t.defined(), "{}: {} is undefined", op, name);
  POUCH_CHECK(t.device() == Device::CPU, "{}: {} {} {} is on device {}; the cpu backend reaches host memory only", op,
              name, dtype_name(t.dtype()), shape_str(t.shape()), device_name(t.device()));
}

// Byte ranges [a, a + na) and [b, b + nb) share a byte.
bool overlaps(const void* a, std::size_t na, const void* b, std::size_t nb) {
  const auto* pa = static_cast<const char*>(a);
  const auto* pb = static_cast<const char*>(b);
  return na > 0 && nb > 0 && pa < pb + nb && pb < pa + na;
}

const CpuEvent& as_cpu_event(const DeviceEvent& e, const char* op) {
  const auto* cpu = dynamic_cast<const CpuEvent*>(&e);
  POUCH_CHECK(cpu != nullptr, "{}: the event was not recorded by a cpu backend", op);
  return *cpu;
}

}  // namespace

Tensor CpuBackend::empty_host(Shape shape, DType dtype) { return Tensor::empty(std::move(shape), dtype, Device::CPU); }

void CpuBackend::fill(const Tensor& t, float value) {
  require_host_tensor(t, "fill", "t");
  // +0 is all bits zero in every dtype: one memset (what zero_() did).
  if (value == 0.0f && !std::signbit(value)) {
    t.zero_();
    return;
  }
  switch (t.dtype()) {
    case DType::F32:
      t.fill_(value);
      return;
    case DType::F64: {
      double* p = t.data<double>();
      for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = value;
      return;
    }
    case DType::I32: {
      POUCH_CHECK(std::nearbyint(value) == value && value >= -2147483648.0f && value < 2147483648.0f,
                  "fill: {} is not an int32 value", value);
      const auto v = static_cast<std::int32_t>(value);
      std::int32_t* p = t.i32();
      for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = v;
      return;
    }
    default:
      POUCH_CHECK(false, "fill: a {} tensor can only be filled with +0, not {}", dtype_name(t.dtype()), value);
  }
}

void CpuBackend::copy(const Tensor& dst, const Tensor& src) {
  require_host_tensor(dst, "copy", "dst");
  require_host_tensor(src, "copy", "src");
  POUCH_CHECK(dst.numel() == src.numel() && dst.dtype() == src.dtype(), "copy: src {} {} into dst {} {}",
              shape_str(src.shape()), dtype_name(src.dtype()), shape_str(dst.shape()), dtype_name(dst.dtype()));
  if (dst.raw() == src.raw()) return;
  POUCH_CHECK(!overlaps(dst.raw(), dst.nbytes(), src.raw(), src.nbytes()), "copy: dst and src overlap");
  if (dst.nbytes() > 0) std::memcpy(dst.raw(), src.raw(), dst.nbytes());
}

void CpuBackend::copy_2d(const Tensor& dst, std::int64_t dst_row_stride, const Tensor& src, std::int64_t src_row_stride,
                         std::int64_t rows, std::int64_t row_elems) {
  require_host_tensor(dst, "copy_2d", "dst");
  require_host_tensor(src, "copy_2d", "src");
  POUCH_CHECK(dst.dtype() == src.dtype(), "copy_2d: src is {}, dst is {}", dtype_name(src.dtype()),
              dtype_name(dst.dtype()));
  POUCH_CHECK(rows >= 0 && row_elems >= 0 && dst_row_stride >= row_elems && src_row_stride >= row_elems,
              "copy_2d: {} rows of {} with strides dst {} and src {}", rows, row_elems, dst_row_stride, src_row_stride);
  if (rows == 0 || row_elems == 0) return;
  // The last row ends at (rows - 1) * stride + row_elems.
  POUCH_CHECK((rows - 1) * dst_row_stride + row_elems <= dst.numel(),
              "copy_2d: {} rows of {} at stride {} exceed dst {}", rows, row_elems, dst_row_stride,
              shape_str(dst.shape()));
  POUCH_CHECK((rows - 1) * src_row_stride + row_elems <= src.numel(),
              "copy_2d: {} rows of {} at stride {} exceed src {}", rows, row_elems, src_row_stride,
              shape_str(src.shape()));
  const std::size_t esize = dtype_size(dst.dtype());
  const std::size_t row_bytes = static_cast<std::size_t>(row_elems) * esize;
  POUCH_CHECK(!overlaps(dst.raw(), static_cast<std::size_t>((rows - 1) * dst_row_stride + row_elems) * esize, src.raw(),
                        static_cast<std::size_t>((rows - 1) * src_row_stride + row_elems) * esize),
              "copy_2d: dst and src overlap");
  auto* d = static_cast<char*>(dst.raw());
  const auto* s = static_cast<const char*>(src.raw());
  for (std::int64_t r = 0; r < rows; ++r)
    std::memcpy(d + static_cast<std::size_t>(r * dst_row_stride) * esize,
                s + static_cast<std::size_t>(r * src_row_stride) * esize, row_bytes);
}

Tensor CpuBackend::clone(const Tensor& t) {
  require_host_tensor(t, "clone", "t");
  return t.clone();
}

std::shared_ptr<DeviceEvent> CpuBackend::record_event() { return std::make_shared<CpuEvent>(host_syncs_); }

void CpuBackend::wait_event(const DeviceEvent& event) { as_cpu_event(event, "wait_event"); }

void CpuBackend::synchronize() { host_syncs_->fetch_add(1, std::memory_order_relaxed); }

double CpuBackend::elapsed_s(const DeviceEvent& start, const DeviceEvent& end) {
  const std::chrono::duration<double> dt =
      as_cpu_event(end, "elapsed_s").stamp() - as_cpu_event(start, "elapsed_s").stamp();
  return dt.count();
}

}  // namespace pouch
