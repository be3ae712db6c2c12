// SimBackend's memory and ordering calls: allocation, fills, the copy rules
// of sim_backend.h, events, synchronize.
#include <cstdlib>
#include <cstring>

#include "runtime/sim/sim_backend.h"
#include "runtime/sim/sim_event.h"

namespace pouch {
namespace {

// 64-byte aligned like Tensor::empty, so SIMD kernels see the same alignment
// as on the CPU backend.
std::shared_ptr<void> allocate(std::int64_t numel, DType dtype, bool poison) {
  std::size_t bytes = (static_cast<std::size_t>(numel) * dtype_size(dtype) + 63) / 64 * 64;
  if (bytes == 0) bytes = 64;
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) throw Error(fmt::format("sim device: out of memory allocating {} bytes", bytes));
  if (poison) std::memset(p, 0xFF, bytes);
  return std::shared_ptr<void>(p, std::free);
}

void require_copy_operand(const Tensor& t, const char* op, const char* name) {
  POUCH_CHECK(t.defined(), "{}: {} is undefined", op, name);
  POUCH_CHECK(t.device() == Device::CPU || t.device() == Device::Sim,
              "{}: {} {} {} is on device {}; the sim backend reaches sim and host memory only", op, name,
              dtype_name(t.dtype()), shape_str(t.shape()), device_name(t.device()));
}

SimEvent& as_sim_event(const DeviceEvent& e, const char* op) {
  auto* sim = dynamic_cast<const SimEvent*>(&e);
  POUCH_CHECK(sim != nullptr, "{}: the event was not recorded by a sim backend", op);
  return const_cast<SimEvent&>(*sim);
}

}  // namespace

namespace sim_detail {
void require_on_sim(const Tensor& t, const char* op, int index) {
  if (!t.defined() || t.device() == Device::Sim) return;
  throw Error(
      fmt::format("sim backend: {}: tensor argument {} ({} {}) is on device {}, not sim; copy it to the "
                  "device with Backend::copy first",
                  op, index + 1, dtype_name(t.dtype()), shape_str(t.shape()), device_name(t.device())));
}
}  // namespace sim_detail

bool SimBackend::PinnedRegistry::contains(const void* p, std::size_t bytes) {
  const auto* c = static_cast<const char*>(p);
  std::lock_guard<std::mutex> lock(mu);
  auto it = ranges.upper_bound(c);
  if (it == ranges.begin()) return false;
  --it;
  return c + bytes <= it->first + it->second;
}

SimBackend::SimBackend(const SimOptions& options)
    : options_(options), compute_(std::make_unique<SimStream>("compute", options)) {}

SimBackend::~SimBackend() = default;

Tensor SimBackend::empty(Shape shape, DType dtype) {
  compute_->check();
  std::shared_ptr<void> storage = allocate(shape_numel(shape), dtype, options_.poison_allocations);
  void* data = storage.get();
  return Tensor::adopt(std::move(storage), data, std::move(shape), dtype, Device::Sim);
}

Tensor SimBackend::zeros(Shape shape, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  fill(t, 0.0f);
  return t;
}

Tensor SimBackend::empty_host(Shape shape, DType dtype) {
  std::shared_ptr<void> block = allocate(shape_numel(shape), dtype, options_.poison_allocations);
  const auto* begin = static_cast<const char*>(block.get());
  {
    std::lock_guard<std::mutex> lock(pinned_->mu);
    pinned_->ranges[begin] = static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype);
  }
  // The deleter unregisters the range before the memory goes back.
  std::shared_ptr<void> storage(block.get(), [block, registry = pinned_, begin](void*) mutable {
    {
      std::lock_guard<std::mutex> lock(registry->mu);
      registry->ranges.erase(begin);
    }
    block.reset();
  });
  void* data = storage.get();
  return Tensor::adopt(std::move(storage), data, std::move(shape), dtype, Device::CPU);
}

void SimBackend::fill(const Tensor& t, float value) {
  launch(
      "fill", [this, value](const Tensor& v) { cpu_.fill(v, value); }, t);
}

void SimBackend::queue_copy(const char* op, const Tensor& dst, const Tensor& src, std::size_t src_bytes,
                            std::function<void(const Tensor&, const Tensor&)> run) {
  require_copy_operand(dst, op, "dst");
  require_copy_operand(src, op, "src");
  Tensor from = src;
  if (src.on_host() && !pinned_->contains(src.raw(), src_bytes)) {
    // Pageable source: read now, so the host may overwrite it on return.
    from = Tensor::empty({static_cast<std::int64_t>(src_bytes / dtype_size(src.dtype()))}, src.dtype());
    if (src_bytes > 0) std::memcpy(from.raw(), src.raw(), src_bytes);
  }
  const bool dst_pageable = dst.on_host() && !pinned_->contains(dst.raw(), dst.nbytes());
  compute_->enqueue(op, [run = std::move(run), d = sim_detail::cpu_view(dst), s = sim_detail::cpu_view(from),
                         keep_dst = dst, keep_src = from]() { run(d, s); });
  if (dst_pageable) {
    compute_->drain();
    host_syncs_->fetch_add(1, std::memory_order_relaxed);
  }
}

void SimBackend::copy(const Tensor& dst, const Tensor& src) {
  require_copy_operand(dst, "copy", "dst");
  require_copy_operand(src, "copy", "src");
  POUCH_CHECK(dst.numel() == src.numel() && dst.dtype() == src.dtype(), "copy: src {} {} into dst {} {}",
              shape_str(src.shape()), dtype_name(src.dtype()), shape_str(dst.shape()), dtype_name(dst.dtype()));
  queue_copy("copy", dst, src, src.nbytes(), [this](const Tensor& d, const Tensor& s) { cpu_.copy(d, s); });
}

void SimBackend::copy_2d(const Tensor& dst, std::int64_t dst_row_stride, const Tensor& src, std::int64_t src_row_stride,
                         std::int64_t rows, std::int64_t row_elems) {
  require_copy_operand(dst, "copy_2d", "dst");
  require_copy_operand(src, "copy_2d", "src");
  POUCH_CHECK(rows >= 0 && row_elems >= 0 && src_row_stride >= row_elems, "copy_2d: {} rows of {} at src stride {}",
              rows, row_elems, src_row_stride);
  const std::int64_t span = rows == 0 || row_elems == 0 ? 0 : (rows - 1) * src_row_stride + row_elems;
  POUCH_CHECK(span <= src.numel(), "copy_2d: {} rows of {} at stride {} exceed src {}", rows, row_elems, src_row_stride,
              shape_str(src.shape()));
  queue_copy("copy_2d", dst, src, static_cast<std::size_t>(span) * dtype_size(src.dtype()),
             [this, dst_row_stride, src_row_stride, rows, row_elems](const Tensor& d, const Tensor& s) {
               cpu_.copy_2d(d, dst_row_stride, s, src_row_stride, rows, row_elems);
             });
}

Tensor SimBackend::clone(const Tensor& t) {
  require_copy_operand(t, "clone", "t");
  Tensor out = empty(t.shape(), t.dtype());
  copy(out, t);
  return out;
}

std::shared_ptr<DeviceEvent> SimBackend::record_event() {
  auto event = std::make_shared<SimEvent>(host_syncs_);
  compute_->enqueue(
      "record_event", [event] { event->complete(); }, /*is_op=*/false);
  return event;
}

void SimBackend::wait_event(const DeviceEvent& event) {
  std::shared_ptr<SimEvent> e = as_sim_event(event, "wait_event").shared_from_this();
  if (e->query()) return;
  compute_->enqueue(
      "wait_event", [e] { e->wait(); }, /*is_op=*/false);
}

void SimBackend::synchronize() {
  host_syncs_->fetch_add(1, std::memory_order_relaxed);
  compute_->drain();
}

double SimBackend::elapsed_s(const DeviceEvent& start, const DeviceEvent& end) {
  const SimEvent& s = as_sim_event(start, "elapsed_s");
  const SimEvent& e = as_sim_event(end, "elapsed_s");
  POUCH_CHECK(s.query() && e.query(),
              "elapsed_s: an event has not completed yet; synchronize on the end event before timing");
  const std::chrono::duration<double> dt = e.stamp() - s.stamp();
  return dt.count();
}

}  // namespace pouch
