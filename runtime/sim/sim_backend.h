#pragma once
// The simulated device: host memory tagged Device::Sim, so every host
// accessor of Tensor refuses it exactly as it refuses CUDA memory, and every
// op queued on an in-order worker thread (SimStream) that runs the CPU
// backend's kernels on the same memory. Results are therefore bitwise the CPU
// backend's, while ordering follows device rules: the host sees a result only
// after an event, synchronize(), a copy into pageable host memory, or
// sum_squares (each a counted host sync). With delays on (SimOptions), a
// missing wait shows up as a stale value.
//
// Copies: device<->device and host<->device are queued. From pageable host
// memory the source is read at the call (as cudaMemcpyAsync stages pageable
// memory), so the host may reuse it at once; from or into an empty_host
// buffer the copy runs in stream order and the host must wait on an event
// before touching the buffer again. Into pageable host memory the host waits
// (one host sync).
#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include "runtime/backend.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/sim/sim_options.h"
#include "runtime/sim/sim_stream.h"

namespace pouch {

class SimBackend final : public Backend {
 public:
  explicit SimBackend(const SimOptions& options = SimOptions::from_env());
  ~SimBackend() override;

  Device device() const override { return Device::Sim; }
  std::string name() const override { return "sim"; }

  Tensor empty(Shape shape, DType dtype = DType::F32) override;
  Tensor zeros(Shape shape, DType dtype = DType::F32) override;
  Tensor empty_host(Shape shape, DType dtype = DType::F32) override;
  void fill(const Tensor& t, float value) override;
  void copy(const Tensor& dst, const Tensor& src) override;
  void copy_2d(const Tensor& dst, std::int64_t dst_row_stride, const Tensor& src, std::int64_t src_row_stride,
               std::int64_t rows, std::int64_t row_elems) override;
  Tensor clone(const Tensor& t) override;

  std::shared_ptr<DeviceEvent> record_event() override;
  void wait_event(const DeviceEvent& event) override;
  void synchronize() override;
  double elapsed_s(const DeviceEvent& start, const DeviceEvent& end) override;
  std::int64_t host_syncs() const override { return host_syncs_->load(std::memory_order_relaxed); }
  void* stream_handle() const override { return compute_.get(); }

  void matmul(const Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, float alpha = 1.0f,
              float beta = 0.0f) override;
  void linear_forward(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias) override;
  void linear_backward(const Tensor& dx, const Tensor& dw, const Tensor& dbias, const Tensor& dy, const Tensor& x,
                       const Tensor& w) override;

  void layernorm_forward(const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& x, const Tensor& w,
                         const Tensor& b, float eps) override;
  void layernorm_backward(const Tensor& dx, const Tensor& dw, const Tensor& db, const Tensor& dy, const Tensor& x,
                          const Tensor& w, const Tensor& mean, const Tensor& rstd) override;
  void gelu_forward(const Tensor& out, const Tensor& x) override;
  void gelu_backward(const Tensor& dx, const Tensor& dy, const Tensor& x) override;
  void add(const Tensor& out, const Tensor& a, const Tensor& b) override;
  void scale(const Tensor& x, float s) override;
  void softmax_forward(const Tensor& out, const Tensor& x, float temperature = 1.0f) override;

  void round_to_precision(const Tensor& out, const Tensor& x, Precision p) override;
  void cast(const Tensor& out, const Tensor& x) override;
  void unscale_and_check(const Tensor& grads, float inv_scale, const Tensor& found) override;

  void embedding_forward(const Tensor& out, const Tensor& ids, const Tensor& table, long vocab_start,
                         bool accumulate) override;
  void embedding_backward(const Tensor& dtable, const Tensor& dout, const Tensor& ids, long vocab_start) override;

  void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& qkv, int heads) override;
  void attention_backward(const Tensor& dqkv, const Tensor& dout, const Tensor& qkv, const Tensor& out,
                          const Tensor& lse, int heads) override;
  void attention_decode(const Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v, long len,
                        int heads) override;

  void cross_entropy_forward_backward(const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                      const Tensor& targets, float grad_scale) override;

  void vocab_parallel_ce_max(const Tensor& row_max, const Tensor& logits, long valid) override;
  void vocab_parallel_ce_stats(const Tensor& stats, const Tensor& logits, const Tensor& row_max, const Tensor& targets,
                               long vocab_start, long valid) override;
  void vocab_parallel_ce_finish(const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                const Tensor& row_max, const Tensor& stats, const Tensor& targets, long vocab_start,
                                long valid, float grad_scale) override;

  void adamw_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                    const AdamWParams& hp) override;
  double sum_squares(const Tensor& x) override;
  void sum_squares_segments(const Tensor& flat, const std::vector<SquareSumSegment>& segments,
                            const Tensor& out) override;
  void cross_entropy_row_weighted(const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                  const Tensor& targets, const Tensor& row_weights) override;
  void vocab_parallel_ce_finish_row_weighted(const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                             const Tensor& row_max, const Tensor& stats, const Tensor& targets,
                                             long vocab_start, long valid, const Tensor& row_weights) override;
  void softmax_entropy_stats(const Tensor& stats, const Tensor& logits, const Tensor& row_max, long valid) override;
  void softmax_entropy_finish(const Tensor& entropy, const Tensor& stats) override;
  void masked_loss_sum(const Tensor& losses, const Tensor& targets, const Tensor& out) override;
  void ewc_fisher_accumulate(const Tensor& fisher, const Tensor& grads, double weight) override;
  void ewc_penalty_gradient(const Tensor& grads, const Tensor& values, const Tensor& anchor, const Tensor& fisher,
                            float lambda) override;
  void ewc_penalty_sum(const Tensor& out, const Tensor& values, const Tensor& anchor, const Tensor& fisher) override;

 private:
  // Page-locked (empty_host) host ranges, by start address: copies from or
  // into them stay asynchronous. Shared with the buffers' deleters.
  struct PinnedRegistry {
    std::mutex mu;
    std::map<const char*, std::size_t> ranges;
    bool contains(const void* p, std::size_t bytes);
  };

  // Checks that every defined tensor is on this device, then queues
  // fn(cpu views...) on the compute stream. The Sim tensors ride along, so
  // their memory outlives the op even if the caller drops them.
  template <typename Fn, typename... Ts>
  void launch(const char* op, Fn&& fn, const Ts&... tensors);
  // A host-side copy plan shared by copy() and copy_2d(): `run` does the
  // bytes on CPU views; the host/pinned rules of the class comment apply.
  void queue_copy(const char* op, const Tensor& dst, const Tensor& src, std::size_t src_bytes,
                  std::function<void(const Tensor&, const Tensor&)> run);

  SimOptions options_;
  CpuBackend cpu_;  // called on the worker thread only
  std::shared_ptr<PinnedRegistry> pinned_ = std::make_shared<PinnedRegistry>();
  std::shared_ptr<std::atomic<std::int64_t>> host_syncs_ = std::make_shared<std::atomic<std::int64_t>>(0);
  std::unique_ptr<SimStream> compute_;
};

namespace sim_detail {
// A CPU tensor over the same memory (no ownership): what the CPU kernels on
// the worker are given. Undefined stays undefined (an optional output).
inline Tensor cpu_view(const Tensor& t) {
  return t.defined() ? Tensor::wrap(t.raw(), t.shape(), t.dtype(), Device::CPU) : Tensor();
}
void require_on_sim(const Tensor& t, const char* op, int index);
}  // namespace sim_detail

template <typename Fn, typename... Ts>
void SimBackend::launch(const char* op, Fn&& fn, const Ts&... tensors) {
  int index = 0;
  (sim_detail::require_on_sim(tensors, op, index++), ...);
  compute_->enqueue(op, [fn = std::forward<Fn>(fn), ... views = sim_detail::cpu_view(tensors), ... keep = tensors]() {
    fn(views...);
    (static_cast<void>(keep), ...);
  });
}

}  // namespace pouch
