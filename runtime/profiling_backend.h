#pragma once
// A Backend decorator that times every call of the backend it wraps, by op.
// `pouch bench train --profile` runs the model on it to show where a step's
// time goes. Timing is host wall-clock per call: right for the synchronous
// CPU backend; a CUDA backend would need events instead. The ordering calls
// (events, synchronize, host_syncs) are forwarded untimed, so the inner
// backend's sync count is what callers see.
#include <chrono>
#include <map>
#include <string>

#include "runtime/backend.h"

namespace pouch {

struct OpTiming {
  double seconds = 0.0;
  std::int64_t calls = 0;
};

class ProfilingBackend final : public Backend {
 public:
  explicit ProfilingBackend(Backend& inner) : inner_(inner) {}

  const std::map<std::string, OpTiming>& timings() const { return timings_; }
  void reset() { timings_.clear(); }

  Device device() const override { return inner_.device(); }
  std::string name() const override { return inner_.name() + "+profile"; }
  Tensor empty(Shape shape, DType dtype) override { return inner_.empty(std::move(shape), dtype); }
  Tensor zeros(Shape shape, DType dtype) override { return inner_.zeros(std::move(shape), dtype); }
  Tensor empty_host(Shape shape, DType dtype) override { return inner_.empty_host(std::move(shape), dtype); }
  void fill(const Tensor& t, float value) override {
    timed("fill", [&] { inner_.fill(t, value); });
  }
  void copy(const Tensor& dst, const Tensor& src) override {
    timed("copy", [&] { inner_.copy(dst, src); });
  }
  void copy_2d(const Tensor& dst, std::int64_t dst_row_stride, const Tensor& src, std::int64_t src_row_stride,
               std::int64_t rows, std::int64_t row_elems) override {
    timed("copy", [&] { inner_.copy_2d(dst, dst_row_stride, src, src_row_stride, rows, row_elems); });
  }
  Tensor clone(const Tensor& t) override {
    Tensor r;
    timed("copy", [&] { r = inner_.clone(t); });
    return r;
  }

  std::shared_ptr<DeviceEvent> record_event() override { return inner_.record_event(); }
  void wait_event(const DeviceEvent& event) override { inner_.wait_event(event); }
  void synchronize() override { inner_.synchronize(); }
  double elapsed_s(const DeviceEvent& start, const DeviceEvent& end) override { return inner_.elapsed_s(start, end); }
  std::int64_t host_syncs() const override { return inner_.host_syncs(); }
  void* stream_handle() const override { return inner_.stream_handle(); }

  void matmul(const Tensor& out, const Tensor& a, const Tensor& b, bool ta, bool tb, float alpha, float beta) override {
    timed("matmul", [&] { inner_.matmul(out, a, b, ta, tb, alpha, beta); });
  }
  void linear_forward(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias) override {
    timed("linear_forward", [&] { inner_.linear_forward(out, x, w, bias); });
  }
  void linear_backward(const Tensor& dx, const Tensor& dw, const Tensor& db, const Tensor& dy, const Tensor& x,
                       const Tensor& w) override {
    timed("linear_backward", [&] { inner_.linear_backward(dx, dw, db, dy, x, w); });
  }
  void layernorm_forward(const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& x, const Tensor& w,
                         const Tensor& b, float eps) override {
    timed("layernorm_forward", [&] { inner_.layernorm_forward(out, mean, rstd, x, w, b, eps); });
  }
  void layernorm_backward(const Tensor& dx, const Tensor& dw, const Tensor& db, const Tensor& dy, const Tensor& x,
                          const Tensor& w, const Tensor& mean, const Tensor& rstd) override {
    timed("layernorm_backward", [&] { inner_.layernorm_backward(dx, dw, db, dy, x, w, mean, rstd); });
  }
  void gelu_forward(const Tensor& out, const Tensor& x) override {
    timed("gelu_forward", [&] { inner_.gelu_forward(out, x); });
  }
  void gelu_backward(const Tensor& dx, const Tensor& dy, const Tensor& x) override {
    timed("gelu_backward", [&] { inner_.gelu_backward(dx, dy, x); });
  }
  void add(const Tensor& out, const Tensor& a, const Tensor& b) override {
    timed("add", [&] { inner_.add(out, a, b); });
  }
  void scale(const Tensor& x, float s) override {
    timed("scale", [&] { inner_.scale(x, s); });
  }
  void softmax_forward(const Tensor& out, const Tensor& x, float temperature) override {
    timed("softmax_forward", [&] { inner_.softmax_forward(out, x, temperature); });
  }
  void round_to_precision(const Tensor& out, const Tensor& x, Precision p) override {
    timed("round_to_precision", [&] { inner_.round_to_precision(out, x, p); });
  }
  void cast(const Tensor& out, const Tensor& x) override {
    timed("cast", [&] { inner_.cast(out, x); });
  }
  void unscale_and_check(const Tensor& grads, float inv_scale, const Tensor& found) override {
    timed("unscale_and_check", [&] { inner_.unscale_and_check(grads, inv_scale, found); });
  }
  void embedding_forward(const Tensor& out, const Tensor& ids, const Tensor& table, long vocab_start,
                         bool accumulate) override {
    timed("embedding_forward", [&] { inner_.embedding_forward(out, ids, table, vocab_start, accumulate); });
  }
  void embedding_backward(const Tensor& dtable, const Tensor& dout, const Tensor& ids, long vocab_start) override {
    timed("embedding_backward", [&] { inner_.embedding_backward(dtable, dout, ids, vocab_start); });
  }
  void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& qkv, int heads) override {
    timed("attention_forward", [&] { inner_.attention_forward(out, lse, qkv, heads); });
  }
  void attention_backward(const Tensor& dqkv, const Tensor& dout, const Tensor& qkv, const Tensor& out,
                          const Tensor& lse, int heads) override {
    timed("attention_backward", [&] { inner_.attention_backward(dqkv, dout, qkv, out, lse, heads); });
  }
  void attention_decode(const Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v, long len,
                        int heads) override {
    timed("attention_decode", [&] { inner_.attention_decode(out, q, k, v, len, heads); });
  }
  void cross_entropy_forward_backward(const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                      const Tensor& targets, float grad_scale) override {
    timed("cross_entropy",
          [&] { inner_.cross_entropy_forward_backward(losses, dlogits, logits, targets, grad_scale); });
  }
  void vocab_parallel_ce_max(const Tensor& row_max, const Tensor& logits, long valid) override {
    timed("vocab_parallel_ce", [&] { inner_.vocab_parallel_ce_max(row_max, logits, valid); });
  }
  void vocab_parallel_ce_stats(const Tensor& stats, const Tensor& logits, const Tensor& row_max, const Tensor& targets,
                               long vocab_start, long valid) override {
    timed("vocab_parallel_ce",
          [&] { inner_.vocab_parallel_ce_stats(stats, logits, row_max, targets, vocab_start, valid); });
  }
  void vocab_parallel_ce_finish(const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                const Tensor& row_max, const Tensor& stats, const Tensor& targets, long vocab_start,
                                long valid, float grad_scale) override {
    timed("vocab_parallel_ce", [&] {
      inner_.vocab_parallel_ce_finish(losses, dlogits, logits, row_max, stats, targets, vocab_start, valid, grad_scale);
    });
  }
  void adamw_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                    const AdamWParams& hp) override {
    timed("adamw_update", [&] { inner_.adamw_update(param, grad, m, v, hp); });
  }
  double sum_squares(const Tensor& x) override {
    double r = 0.0;
    timed("sum_squares", [&] { r = inner_.sum_squares(x); });
    return r;
  }
  void sum_squares_segments(const Tensor& flat, const std::vector<SquareSumSegment>& segments,
                            const Tensor& out) override {
    timed("sum_squares", [&] { inner_.sum_squares_segments(flat, segments, out); });
  }
  void cross_entropy_row_weighted(const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                  const Tensor& targets, const Tensor& row_weights) override {
    timed("cross_entropy", [&] { inner_.cross_entropy_row_weighted(losses, dlogits, logits, targets, row_weights); });
  }
  void vocab_parallel_ce_finish_row_weighted(const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                             const Tensor& row_max, const Tensor& stats, const Tensor& targets,
                                             long vocab_start, long valid, const Tensor& row_weights) override {
    timed("vocab_parallel_ce", [&] {
      inner_.vocab_parallel_ce_finish_row_weighted(losses, dlogits, logits, row_max, stats, targets, vocab_start, valid,
                                                   row_weights);
    });
  }
  void softmax_entropy_stats(const Tensor& stats, const Tensor& logits, const Tensor& row_max, long valid) override {
    timed("entropy", [&] { inner_.softmax_entropy_stats(stats, logits, row_max, valid); });
  }
  void softmax_entropy_finish(const Tensor& entropy, const Tensor& stats) override {
    timed("entropy", [&] { inner_.softmax_entropy_finish(entropy, stats); });
  }
  void masked_loss_sum(const Tensor& losses, const Tensor& targets, const Tensor& out) override {
    timed("masked_loss_sum", [&] { inner_.masked_loss_sum(losses, targets, out); });
  }
  void ewc_fisher_accumulate(const Tensor& fisher, const Tensor& grads, double weight) override {
    timed("ewc", [&] { inner_.ewc_fisher_accumulate(fisher, grads, weight); });
  }
  void ewc_penalty_gradient(const Tensor& grads, const Tensor& values, const Tensor& anchor, const Tensor& fisher,
                            float lambda) override {
    timed("ewc", [&] { inner_.ewc_penalty_gradient(grads, values, anchor, fisher, lambda); });
  }
  void ewc_penalty_sum(const Tensor& out, const Tensor& values, const Tensor& anchor, const Tensor& fisher) override {
    timed("ewc", [&] { inner_.ewc_penalty_sum(out, values, anchor, fisher); });
  }

 private:
  template <typename F>
  void timed(const char* op, F&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    auto& t = timings_[op];
    t.seconds += dt.count();
    ++t.calls;
  }

  Backend& inner_;
  std::map<std::string, OpTiming> timings_;
};

}  // namespace pouch
