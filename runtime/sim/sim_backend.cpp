// SimBackend's compute ops: each queues the CPU backend's op on the compute
// stream (SimBackend::launch), so shapes and dtypes are checked by the same
// code, on the worker, and a failure surfaces at the next call (sticky).
#include "runtime/sim/sim_backend.h"

namespace pouch {

using T = const Tensor&;

void SimBackend::matmul(T out, T a, T b, bool trans_a, bool trans_b, float alpha, float beta) {
  launch(
      "matmul",
      [this, trans_a, trans_b, alpha, beta](T o, T x, T y) { cpu_.matmul(o, x, y, trans_a, trans_b, alpha, beta); },
      out, a, b);
}

void SimBackend::linear_forward(T out, T x, T w, T bias) {
  launch(
      "linear_forward", [this](T o, T xx, T ww, T bb) { cpu_.linear_forward(o, xx, ww, bb); }, out, x, w, bias);
}

void SimBackend::linear_backward(T dx, T dw, T dbias, T dy, T x, T w) {
  launch(
      "linear_backward", [this](T a, T b, T c, T d, T e, T f) { cpu_.linear_backward(a, b, c, d, e, f); }, dx, dw,
      dbias, dy, x, w);
}

void SimBackend::layernorm_forward(T out, T mean, T rstd, T x, T w, T b, float eps) {
  launch(
      "layernorm_forward",
      [this, eps](T o, T m, T r, T xx, T ww, T bb) { cpu_.layernorm_forward(o, m, r, xx, ww, bb, eps); }, out, mean,
      rstd, x, w, b);
}

void SimBackend::layernorm_backward(T dx, T dw, T db, T dy, T x, T w, T mean, T rstd) {
  launch(
      "layernorm_backward",
      [this](T a, T b, T c, T d, T e, T f, T g, T h) { cpu_.layernorm_backward(a, b, c, d, e, f, g, h); }, dx, dw, db,
      dy, x, w, mean, rstd);
}

void SimBackend::gelu_forward(T out, T x) {
  launch(
      "gelu_forward", [this](T o, T xx) { cpu_.gelu_forward(o, xx); }, out, x);
}

void SimBackend::gelu_backward(T dx, T dy, T x) {
  launch(
      "gelu_backward", [this](T a, T b, T c) { cpu_.gelu_backward(a, b, c); }, dx, dy, x);
}

void SimBackend::add(T out, T a, T b) {
  launch(
      "add", [this](T o, T x, T y) { cpu_.add(o, x, y); }, out, a, b);
}

void SimBackend::scale(T x, float s) {
  launch(
      "scale", [this, s](T xx) { cpu_.scale(xx, s); }, x);
}

void SimBackend::softmax_forward(T out, T x, float temperature) {
  launch(
      "softmax_forward", [this, temperature](T o, T xx) { cpu_.softmax_forward(o, xx, temperature); }, out, x);
}

void SimBackend::round_to_precision(T out, T x, Precision p) {
  launch(
      "round_to_precision", [this, p](T o, T xx) { cpu_.round_to_precision(o, xx, p); }, out, x);
}

void SimBackend::cast(T out, T x) {
  launch(
      "cast", [this](T o, T xx) { cpu_.cast(o, xx); }, out, x);
}

void SimBackend::unscale_and_check(T grads, float inv_scale, T found) {
  launch(
      "unscale_and_check", [this, inv_scale](T g, T f) { cpu_.unscale_and_check(g, inv_scale, f); }, grads, found);
}

void SimBackend::embedding_forward(T out, T ids, T table, long vocab_start, bool accumulate) {
  launch(
      "embedding_forward",
      [this, vocab_start, accumulate](T o, T i, T t) { cpu_.embedding_forward(o, i, t, vocab_start, accumulate); }, out,
      ids, table);
}

void SimBackend::embedding_backward(T dtable, T dout, T ids, long vocab_start) {
  launch(
      "embedding_backward", [this, vocab_start](T d, T o, T i) { cpu_.embedding_backward(d, o, i, vocab_start); },
      dtable, dout, ids);
}

void SimBackend::attention_forward(T out, T lse, T qkv, int heads) {
  launch(
      "attention_forward", [this, heads](T o, T l, T q) { cpu_.attention_forward(o, l, q, heads); }, out, lse, qkv);
}

void SimBackend::attention_backward(T dqkv, T dout, T qkv, T out, T lse, int heads) {
  launch(
      "attention_backward", [this, heads](T a, T b, T c, T d, T e) { cpu_.attention_backward(a, b, c, d, e, heads); },
      dqkv, dout, qkv, out, lse);
}

void SimBackend::attention_decode(T out, T q, T k, T v, long len, int heads) {
  launch(
      "attention_decode",
      [this, len, heads](T o, T qq, T kk, T vv) { cpu_.attention_decode(o, qq, kk, vv, len, heads); }, out, q, k, v);
}

void SimBackend::cross_entropy_forward_backward(T losses, T dlogits, T logits, T targets, float grad_scale) {
  launch(
      "cross_entropy_forward_backward",
      [this, grad_scale](T l, T d, T x, T t) { cpu_.cross_entropy_forward_backward(l, d, x, t, grad_scale); }, losses,
      dlogits, logits, targets);
}

void SimBackend::vocab_parallel_ce_max(T row_max, T logits, long valid) {
  launch(
      "vocab_parallel_ce_max", [this, valid](T m, T x) { cpu_.vocab_parallel_ce_max(m, x, valid); }, row_max, logits);
}

void SimBackend::vocab_parallel_ce_stats(T stats, T logits, T row_max, T targets, long vocab_start, long valid) {
  launch(
      "vocab_parallel_ce_stats",
      [this, vocab_start, valid](T s, T x, T m, T t) { cpu_.vocab_parallel_ce_stats(s, x, m, t, vocab_start, valid); },
      stats, logits, row_max, targets);
}

void SimBackend::vocab_parallel_ce_finish(T losses, T dlogits, T logits, T row_max, T stats, T targets,
                                          long vocab_start, long valid, float grad_scale) {
  launch(
      "vocab_parallel_ce_finish",
      [this, vocab_start, valid, grad_scale](T l, T d, T x, T m, T s, T t) {
        cpu_.vocab_parallel_ce_finish(l, d, x, m, s, t, vocab_start, valid, grad_scale);
      },
      losses, dlogits, logits, row_max, stats, targets);
}

void SimBackend::adamw_update(T param, T grad, T m, T v, const AdamWParams& hp) {
  launch(
      "adamw_update", [this, hp](T p, T g, T mm, T vv) { cpu_.adamw_update(p, g, mm, vv, hp); }, param, grad, m, v);
}

double SimBackend::sum_squares(T x) {
  auto result = std::make_shared<double>(0.0);
  launch(
      "sum_squares", [this, result](T xx) { *result = cpu_.sum_squares(xx); }, x);
  // The double is read on the host: a host sync by contract.
  host_syncs_->fetch_add(1, std::memory_order_relaxed);
  compute_->drain();
  return *result;
}

void SimBackend::sum_squares_segments(T flat, const std::vector<SquareSumSegment>& segments, T out) {
  launch(
      "sum_squares_segments", [this, segments](T f, T o) { cpu_.sum_squares_segments(f, segments, o); }, flat, out);
}

}  // namespace pouch
