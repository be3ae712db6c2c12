#pragma once
// The CPU implementation of Backend: shape and dtype checks, then the free
// kernels of runtime/cpu/ on raw pointers. Tensors whose rank is above what an
// op needs are read as rows: the last dimension is the row, the leading
// dimensions are flattened (an activation [B, T, C] is N = B*T rows of C).
#include <atomic>

#include "runtime/backend.h"

namespace pouch {

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::CPU; }
  std::string name() const override { return "cpu"; }

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
  void* stream_handle() const override { return nullptr; }

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
  // Shared with the events this backend records (CpuEvent::synchronize).
  std::shared_ptr<std::atomic<std::int64_t>> host_syncs_ = std::make_shared<std::atomic<std::int64_t>>(0);
};

}  // namespace pouch
