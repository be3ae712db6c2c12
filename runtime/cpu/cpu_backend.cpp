#include "runtime/cpu/cpu_backend.h"

#include "runtime/cpu/adamw.h"
#include "runtime/cpu/attention.h"
#include "runtime/cpu/backend_checks.h"
#include "runtime/cpu/cross_entropy.h"
#include "runtime/cpu/elementwise.h"
#include "runtime/cpu/embedding.h"
#include "runtime/cpu/gelu.h"
#include "runtime/cpu/gemm.h"
#include "runtime/cpu/layernorm.h"
#include "runtime/cpu/linear.h"
#include "runtime/cpu/reductions.h"
#include "runtime/cpu/softmax.h"
#include "runtime/cpu/vocab_parallel_ce.h"

namespace pouch {

using cpu_checks::as_mat;
using cpu_checks::Mat;
using cpu_checks::opt_f32;
using cpu_checks::require;
using cpu_checks::require_numel;
using cpu_checks::require_rows;
using cpu_checks::require_vocab_parallel_ce;

Tensor CpuBackend::empty(Shape shape, DType dtype) { return Tensor::empty(std::move(shape), dtype, Device::CPU); }

Tensor CpuBackend::zeros(Shape shape, DType dtype) { return Tensor::zeros(std::move(shape), dtype, Device::CPU); }

void CpuBackend::matmul(const Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, float alpha,
                        float beta) {
  constexpr const char* op = "matmul";
  require(out, op, "out");
  require(a, op, "a");
  require(b, op, "b");
  const Mat ma = as_mat(a, op, "a", 2), mb = as_mat(b, op, "b", 2), mo = as_mat(out, op, "out", 2);
  const std::int64_t M = trans_a ? ma.cols : ma.rows, K = trans_a ? ma.rows : ma.cols;
  const std::int64_t Kb = trans_b ? mb.cols : mb.rows, N = trans_b ? mb.rows : mb.cols;
  POUCH_CHECK(K == Kb && mo.rows == M && mo.cols == N,
              "matmul: out {} = op(a {}{}) * op(b {}{}): inner sizes {} vs {}, expected out [{}, {}]",
              shape_str(out.shape()), shape_str(a.shape()), trans_a ? "^T" : "", shape_str(b.shape()),
              trans_b ? "^T" : "", K, Kb, M, N);
  cpu::sgemm(trans_a, trans_b, M, N, K, alpha, a.f32(), b.f32(), beta, out.f32());
}

void CpuBackend::linear_forward(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias) {
  constexpr const char* op = "linear_forward";
  require(out, op, "out");
  require(x, op, "x");
  require(w, op, "w");
  POUCH_CHECK(w.ndim() == 2, "linear_forward: w {} must be [out, in]", shape_str(w.shape()));
  const Mat mx = as_mat(x, op, "x");
  const std::int64_t O = w.dim(0), I = w.dim(1);
  POUCH_CHECK(mx.cols == I, "linear_forward: x {} has {} features but w {} expects {}", shape_str(x.shape()), mx.cols,
              shape_str(w.shape()), I);
  require_rows(out, {mx.rows, O}, op, "out", x, "x");
  float* pb = opt_f32(bias, op, "bias");
  if (pb != nullptr) require_numel(bias, O, op, "bias", w, "w");
  cpu::linear_forward(out.f32(), x.f32(), w.f32(), pb, mx.rows, I, O);
}

void CpuBackend::linear_backward(const Tensor& dx, const Tensor& dw, const Tensor& dbias, const Tensor& dy,
                                 const Tensor& x, const Tensor& w) {
  constexpr const char* op = "linear_backward";
  require(dy, op, "dy");
  require(x, op, "x");
  require(w, op, "w");
  POUCH_CHECK(w.ndim() == 2, "linear_backward: w {} must be [out, in]", shape_str(w.shape()));
  const std::int64_t O = w.dim(0), I = w.dim(1);
  const Mat mx = as_mat(x, op, "x");
  POUCH_CHECK(mx.cols == I, "linear_backward: x {} has {} features but w {} expects {}", shape_str(x.shape()), mx.cols,
              shape_str(w.shape()), I);
  require_rows(dy, {mx.rows, O}, op, "dy", x, "x");
  float* pdx = opt_f32(dx, op, "dx");
  float* pdw = opt_f32(dw, op, "dw");
  float* pdb = opt_f32(dbias, op, "dbias");
  if (pdx != nullptr) require_rows(dx, mx, op, "dx", x, "x");
  if (pdw != nullptr) require_numel(dw, O * I, op, "dw", w, "w");
  if (pdb != nullptr) require_numel(dbias, O, op, "dbias", w, "w");
  cpu::linear_backward(pdx, pdw, pdb, dy.f32(), x.f32(), w.f32(), mx.rows, I, O);
}

void CpuBackend::layernorm_forward(const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& x,
                                   const Tensor& w, const Tensor& b, float eps) {
  constexpr const char* op = "layernorm_forward";
  require(out, op, "out");
  require(x, op, "x");
  require(w, op, "w");
  require(b, op, "b");
  const Mat mx = as_mat(x, op, "x");
  POUCH_CHECK(mx.cols >= 1, "layernorm_forward: x {} has no features", shape_str(x.shape()));
  require_rows(out, mx, op, "out", x, "x");
  require_numel(w, mx.cols, op, "w", x, "x");
  require_numel(b, mx.cols, op, "b", x, "x");
  float* pm = opt_f32(mean, op, "mean");
  float* pr = opt_f32(rstd, op, "rstd");
  if (pm != nullptr) require_numel(mean, mx.rows, op, "mean", x, "x");
  if (pr != nullptr) require_numel(rstd, mx.rows, op, "rstd", x, "x");
  cpu::layernorm_forward(out.f32(), pm, pr, x.f32(), w.f32(), b.f32(), mx.rows, mx.cols, eps);
}

void CpuBackend::layernorm_backward(const Tensor& dx, const Tensor& dw, const Tensor& db, const Tensor& dy,
                                    const Tensor& x, const Tensor& w, const Tensor& mean, const Tensor& rstd) {
  constexpr const char* op = "layernorm_backward";
  require(dy, op, "dy");
  require(x, op, "x");
  require(w, op, "w");
  require(mean, op, "mean");
  require(rstd, op, "rstd");
  const Mat mx = as_mat(x, op, "x");
  POUCH_CHECK(mx.cols >= 1, "layernorm_backward: x {} has no features", shape_str(x.shape()));
  require_rows(dy, mx, op, "dy", x, "x");
  require_numel(w, mx.cols, op, "w", x, "x");
  require_numel(mean, mx.rows, op, "mean", x, "x");
  require_numel(rstd, mx.rows, op, "rstd", x, "x");
  float* pdx = opt_f32(dx, op, "dx");
  float* pdw = opt_f32(dw, op, "dw");
  float* pdb = opt_f32(db, op, "db");
  if (pdx != nullptr) require_rows(dx, mx, op, "dx", x, "x");
  if (pdw != nullptr) require_numel(dw, mx.cols, op, "dw", x, "x");
  if (pdb != nullptr) require_numel(db, mx.cols, op, "db", x, "x");
  cpu::layernorm_backward(pdx, pdw, pdb, dy.f32(), x.f32(), w.f32(), mean.f32(), rstd.f32(), mx.rows, mx.cols);
}

void CpuBackend::gelu_forward(const Tensor& out, const Tensor& x) {
  constexpr const char* op = "gelu_forward";
  require(out, op, "out");
  require(x, op, "x");
  require_numel(out, x.numel(), op, "out", x, "x");
  cpu::gelu_forward(out.f32(), x.f32(), x.numel());
}

void CpuBackend::gelu_backward(const Tensor& dx, const Tensor& dy, const Tensor& x) {
  constexpr const char* op = "gelu_backward";
  require(dx, op, "dx");
  require(dy, op, "dy");
  require(x, op, "x");
  require_numel(dx, x.numel(), op, "dx", x, "x");
  require_numel(dy, x.numel(), op, "dy", x, "x");
  cpu::gelu_backward(dx.f32(), dy.f32(), x.f32(), x.numel());
}

void CpuBackend::add(const Tensor& out, const Tensor& a, const Tensor& b) {
  constexpr const char* op = "add";
  require(out, op, "out");
  require(a, op, "a");
  require(b, op, "b");
  require_numel(b, a.numel(), op, "b", a, "a");
  require_numel(out, a.numel(), op, "out", a, "a");
  cpu::add(out.f32(), a.f32(), b.f32(), a.numel());
}

void CpuBackend::scale(const Tensor& x, float s) {
  require(x, "scale", "x");
  cpu::scale(x.f32(), s, x.numel());
}

void CpuBackend::softmax_forward(const Tensor& out, const Tensor& x, float temperature) {
  constexpr const char* op = "softmax_forward";
  require(out, op, "out");
  require(x, op, "x");
  POUCH_CHECK(temperature > 0.0f, "softmax_forward: temperature {} must be > 0", temperature);
  const Mat mx = as_mat(x, op, "x");
  POUCH_CHECK(mx.cols >= 1, "softmax_forward: x {} has empty rows", shape_str(x.shape()));
  require_rows(out, mx, op, "out", x, "x");
  cpu::softmax_forward(out.f32(), x.f32(), mx.rows, mx.cols, temperature);
}

void CpuBackend::round_to_precision(const Tensor& out, const Tensor& x, Precision p) {
  constexpr const char* op = "round_to_precision";
  require(out, op, "out");
  require(x, op, "x");
  require_numel(out, x.numel(), op, "out", x, "x");
  if (out.f32() != x.f32()) out.copy_from(x);
  pouch::round_to_precision(p, out.f32(), out.numel());
}

void CpuBackend::cast(const Tensor& out, const Tensor& x) {
  constexpr const char* op = "cast";
  POUCH_CHECK(out.defined() && x.defined(), "{}: out and x must be defined", op);
  POUCH_CHECK(out.device() == Device::CPU && x.device() == Device::CPU,
              "{}: out is on {} and x on {}, expected the CPU", op, device_name(out.device()), device_name(x.device()));
  require_numel(out, x.numel(), op, "out", x, "x");
  const auto half = [](DType t) {
    return t == DType::BF16 ? Precision::BF16 : t == DType::F16 ? Precision::FP16 : Precision::FP32;
  };
  const Precision to = half(out.dtype()), from = half(x.dtype());
  if (x.dtype() == DType::F32 && to != Precision::FP32) {
    narrow(to, x.f32(), static_cast<std::uint16_t*>(out.raw()), x.numel());
  } else if (out.dtype() == DType::F32 && from != Precision::FP32) {
    widen(from, static_cast<const std::uint16_t*>(x.raw()), out.f32(), x.numel());
  } else {
    fail("{}: {} -> {} is not a cast between f32 and bf16/f16", op, dtype_name(x.dtype()), dtype_name(out.dtype()));
  }
}

void CpuBackend::unscale_and_check(const Tensor& grads, float inv_scale, const Tensor& found) {
  constexpr const char* op = "unscale_and_check";
  require(grads, op, "grads");
  require(found, op, "found", DType::I32);
  POUCH_CHECK(found.numel() == 1, "{}: found {} must hold one element", op, shape_str(found.shape()));
  found.i32()[0] = unscale_and_find_nonfinite(grads.f32(), grads.numel(), inv_scale) ? 1 : 0;
}

void CpuBackend::embedding_forward(const Tensor& out, const Tensor& ids, const Tensor& table, long vocab_start,
                                   bool accumulate) {
  constexpr const char* op = "embedding_forward";
  require(out, op, "out");
  require(ids, op, "ids", DType::I32);
  require(table, op, "table");
  POUCH_CHECK(table.ndim() == 2, "embedding_forward: table {} must be [V, C]", shape_str(table.shape()));
  POUCH_CHECK(vocab_start >= 0, "embedding_forward: vocab_start {} < 0", vocab_start);
  const std::int64_t V = table.dim(0), C = table.dim(1);
  require_rows(out, {ids.numel(), C}, op, "out", ids, "ids");
  cpu::embedding_forward(out.f32(), ids.i32(), table.f32(), ids.numel(), V, C, vocab_start, accumulate);
}

void CpuBackend::embedding_backward(const Tensor& dtable, const Tensor& dout, const Tensor& ids, long vocab_start) {
  constexpr const char* op = "embedding_backward";
  require(dtable, op, "dtable");
  require(dout, op, "dout");
  require(ids, op, "ids", DType::I32);
  POUCH_CHECK(dtable.ndim() == 2, "embedding_backward: dtable {} must be [V, C]", shape_str(dtable.shape()));
  POUCH_CHECK(vocab_start >= 0, "embedding_backward: vocab_start {} < 0", vocab_start);
  const std::int64_t V = dtable.dim(0), C = dtable.dim(1);
  require_rows(dout, {ids.numel(), C}, op, "dout", ids, "ids");
  cpu::embedding_backward(dtable.f32(), dout.f32(), ids.i32(), ids.numel(), V, C, vocab_start);
}

namespace {

// qkv [B, T, 3C] -> B, T, C, checked against heads.
struct QkvDims {
  std::int64_t B, T, C;
};

QkvDims qkv_dims(const Tensor& qkv, int heads, const char* op) {
  POUCH_CHECK(qkv.ndim() == 3 && qkv.dim(2) % 3 == 0, "{}: qkv {} must be [B, T, 3C]", op, shape_str(qkv.shape()));
  const std::int64_t C = qkv.dim(2) / 3;
  POUCH_CHECK(heads > 0 && C % heads == 0 && C > 0, "{}: C = {} (qkv {}) is not divisible into {} heads", op, C,
              shape_str(qkv.shape()), heads);
  return {qkv.dim(0), qkv.dim(1), C};
}

}  // namespace

void CpuBackend::attention_forward(const Tensor& out, const Tensor& lse, const Tensor& qkv, int heads) {
  constexpr const char* op = "attention_forward";
  require(out, op, "out");
  require(qkv, op, "qkv");
  const QkvDims d = qkv_dims(qkv, heads, op);
  require_rows(out, {d.B * d.T, d.C}, op, "out", qkv, "qkv");
  float* plse = opt_f32(lse, op, "lse");
  if (plse != nullptr) require_numel(lse, d.B * heads * d.T, op, "lse", qkv, "qkv");
  cpu::attention_forward(out.f32(), plse, qkv.f32(), d.B, d.T, d.C, heads);
}

void CpuBackend::attention_backward(const Tensor& dqkv, const Tensor& dout, const Tensor& qkv, const Tensor& out,
                                    const Tensor& lse, int heads) {
  constexpr const char* op = "attention_backward";
  require(dqkv, op, "dqkv");
  require(dout, op, "dout");
  require(qkv, op, "qkv");
  require(out, op, "out");
  require(lse, op, "lse");
  const QkvDims d = qkv_dims(qkv, heads, op);
  require_rows(dqkv, {d.B * d.T, 3 * d.C}, op, "dqkv", qkv, "qkv");
  require_rows(dout, {d.B * d.T, d.C}, op, "dout", qkv, "qkv");
  require_rows(out, {d.B * d.T, d.C}, op, "out", qkv, "qkv");
  require_numel(lse, d.B * heads * d.T, op, "lse", qkv, "qkv");
  cpu::attention_backward(dqkv.f32(), dout.f32(), qkv.f32(), out.f32(), lse.f32(), d.B, d.T, d.C, heads);
}

void CpuBackend::attention_decode(const Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v, long len,
                                  int heads) {
  constexpr const char* op = "attention_decode";
  require(out, op, "out");
  require(q, op, "q");
  require(k, op, "k");
  require(v, op, "v");
  POUCH_CHECK(k.ndim() == 3, "attention_decode: k {} must be [B, Tmax, C]", shape_str(k.shape()));
  const std::int64_t B = k.dim(0), Tmax = k.dim(1), C = k.dim(2);
  POUCH_CHECK(heads > 0 && C > 0 && C % heads == 0, "attention_decode: C = {} (k {}) is not divisible into {} heads", C,
              shape_str(k.shape()), heads);
  POUCH_CHECK(len >= 1 && len <= Tmax, "attention_decode: len {} outside [1, {}] for k {}", len, Tmax,
              shape_str(k.shape()));
  POUCH_CHECK(v.shape() == k.shape(), "attention_decode: v {} differs from k {}", shape_str(v.shape()),
              shape_str(k.shape()));
  require_rows(q, {B, C}, op, "q", k, "k");
  require_rows(out, {B, C}, op, "out", k, "k");
  cpu::attention_decode(out.f32(), q.f32(), k.f32(), v.f32(), B, Tmax, len, C, heads);
}

void CpuBackend::cross_entropy_forward_backward(const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                                const Tensor& targets, float grad_scale) {
  constexpr const char* op = "cross_entropy_forward_backward";
  require(logits, op, "logits");
  require(targets, op, "targets", DType::I32);
  const Mat ml = as_mat(logits, op, "logits");
  POUCH_CHECK(ml.cols >= 1, "cross_entropy_forward_backward: logits {} have empty rows", shape_str(logits.shape()));
  require_numel(targets, ml.rows, op, "targets", logits, "logits");
  float* pl = opt_f32(losses, op, "losses");
  float* pd = opt_f32(dlogits, op, "dlogits");
  if (pl != nullptr) require_numel(losses, ml.rows, op, "losses", logits, "logits");
  if (pd != nullptr) require_rows(dlogits, ml, op, "dlogits", logits, "logits");
  cpu::cross_entropy_forward_backward(pl, pd, logits.f32(), targets.i32(), ml.rows, ml.cols, grad_scale);
}

void CpuBackend::vocab_parallel_ce_max(const Tensor& row_max, const Tensor& logits, long valid) {
  const Mat ml = require_vocab_parallel_ce("vocab_parallel_ce_max", logits, row_max, valid, nullptr, nullptr);
  cpu::vocab_parallel_ce_max(row_max.f32(), logits.f32(), ml.rows, ml.cols, valid);
}

void CpuBackend::vocab_parallel_ce_stats(const Tensor& stats, const Tensor& logits, const Tensor& row_max,
                                         const Tensor& targets, long vocab_start, long valid) {
  const Mat ml = require_vocab_parallel_ce("vocab_parallel_ce_stats", logits, row_max, valid, &targets, &stats);
  cpu::vocab_parallel_ce_stats(stats.f32(), stats.f32() + ml.rows, logits.f32(), row_max.f32(), targets.i32(), ml.rows,
                               ml.cols, valid, vocab_start);
}

void CpuBackend::vocab_parallel_ce_finish(const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                          const Tensor& row_max, const Tensor& stats, const Tensor& targets,
                                          long vocab_start, long valid, float grad_scale) {
  constexpr const char* op = "vocab_parallel_ce_finish";
  const Mat ml = require_vocab_parallel_ce(op, logits, row_max, valid, &targets, &stats);
  float* pl = opt_f32(losses, op, "losses");
  float* pd = opt_f32(dlogits, op, "dlogits");
  if (pl != nullptr) require_numel(losses, ml.rows, op, "losses", logits, "logits");
  if (pd != nullptr) require_rows(dlogits, ml, op, "dlogits", logits, "logits");
  cpu::vocab_parallel_ce_finish(pl, pd, logits.f32(), row_max.f32(), stats.f32(), stats.f32() + ml.rows, targets.i32(),
                                ml.rows, ml.cols, valid, vocab_start, grad_scale);
}

void CpuBackend::adamw_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                              const AdamWParams& hp) {
  constexpr const char* op = "adamw_update";
  require(param, op, "param");
  require(grad, op, "grad");
  require(m, op, "m");
  require(v, op, "v");
  require_numel(grad, param.numel(), op, "grad", param, "param");
  require_numel(m, param.numel(), op, "m", param, "param");
  require_numel(v, param.numel(), op, "v", param, "param");
  POUCH_CHECK(hp.step >= 1, "adamw_update: step {} must be >= 1 (bias corrections are 1-based)", hp.step);
  const cpu::AdamWStep s{hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weight_decay, hp.step, hp.grad_scale};
  cpu::adamw_update(param.f32(), grad.f32(), m.f32(), v.f32(), param.numel(), s);
}

double CpuBackend::sum_squares(const Tensor& x) {
  require(x, "sum_squares", "x");
  return cpu::sum_squares(x.f32(), x.numel());
}

void CpuBackend::sum_squares_segments(const Tensor& flat, const std::vector<SquareSumSegment>& segments,
                                      const Tensor& out) {
  const char* op = "sum_squares_segments";
  require(flat, op, "flat");
  require(out, op, "out", DType::F64);
  double* o = out.data<double>();
  for (std::int64_t s = 0; s < out.numel(); ++s) o[s] = 0.0;
  const float* x = flat.f32();
  for (const SquareSumSegment& seg : segments) {
    POUCH_CHECK(seg.offset >= 0 && seg.numel >= 0 && seg.offset + seg.numel <= flat.numel(),
                "{}: segment [{}, {}) outside flat {}", op, seg.offset, seg.offset + seg.numel,
                shape_str(flat.shape()));
    POUCH_CHECK(seg.slot >= 0 && seg.slot < out.numel(), "{}: slot {} outside out {}", op, seg.slot,
                shape_str(out.shape()));
    o[seg.slot] += cpu::sum_squares(x + seg.offset, seg.numel);
  }
}

}  // namespace pouch
