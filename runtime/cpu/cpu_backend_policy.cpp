// CpuBackend's ops of the policy losses, the masked loss sum and EWC: checks,
// then the host kernels of runtime/cpu/policy_stats.h, ewc.h and the
// row-scaled forms of cross_entropy.h and vocab_parallel_ce.h.
#include "runtime/cpu/backend_checks.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/cpu/cross_entropy.h"
#include "runtime/cpu/ewc.h"
#include "runtime/cpu/policy_stats.h"
#include "runtime/cpu/vocab_parallel_ce.h"

namespace pouch {

using cpu_checks::Mat;
using cpu_checks::opt_f32_sized;
using cpu_checks::require;
using cpu_checks::require_logit_rows;
using cpu_checks::require_sized;
using cpu_checks::require_vocab_parallel_ce;

void CpuBackend::cross_entropy_row_weighted(const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                            const Tensor& targets, const Tensor& row_weights) {
  constexpr const char* op = "cross_entropy_row_weighted";
  const Mat ml = require_logit_rows(logits, op);
  require_sized(targets, ml.rows, op, "targets", logits, "logits", DType::I32);
  require_sized(row_weights, ml.rows, op, "row_weights", logits, "logits");
  float* pl = opt_f32_sized(losses, ml.rows, op, "losses", logits, "logits");
  float* pd = opt_f32_sized(dlogits, ml.rows * ml.cols, op, "dlogits", logits, "logits");
  cpu::cross_entropy_forward_backward(pl, pd, logits.f32(), targets.i32(), ml.rows, ml.cols, 1.0f, row_weights.f32());
}

void CpuBackend::vocab_parallel_ce_finish_row_weighted(const Tensor& losses, const Tensor& dlogits,
                                                       const Tensor& logits, const Tensor& row_max, const Tensor& stats,
                                                       const Tensor& targets, long vocab_start, long valid,
                                                       const Tensor& row_weights) {
  constexpr const char* op = "vocab_parallel_ce_finish_row_weighted";
  const Mat ml = require_vocab_parallel_ce(op, logits, row_max, valid, &targets, &stats);
  const std::int64_t N = ml.rows;
  require_sized(row_weights, N, op, "row_weights", logits, "logits");
  float* pl = opt_f32_sized(losses, N, op, "losses", logits, "logits");
  float* pd = opt_f32_sized(dlogits, N * ml.cols, op, "dlogits", logits, "logits");
  cpu::vocab_parallel_ce_finish(pl, pd, logits.f32(), row_max.f32(), stats.f32(), stats.f32() + N, targets.i32(), N,
                                ml.cols, valid, vocab_start, 1.0f, row_weights.f32());
}

void CpuBackend::softmax_entropy_stats(const Tensor& stats, const Tensor& logits, const Tensor& row_max, long valid) {
  constexpr const char* op = "softmax_entropy_stats";
  const Mat ml = require_vocab_parallel_ce(op, logits, row_max, valid, nullptr, &stats);
  cpu::softmax_entropy_stats(stats.f32(), stats.f32() + ml.rows, logits.f32(), row_max.f32(), ml.rows, ml.cols, valid);
}

void CpuBackend::softmax_entropy_finish(const Tensor& entropy, const Tensor& stats) {
  constexpr const char* op = "softmax_entropy_finish";
  require(entropy, op, "entropy");
  const std::int64_t N = entropy.numel();
  require_sized(stats, 2 * N, op, "stats", entropy, "entropy");
  cpu::softmax_entropy_finish(entropy.f32(), stats.f32(), stats.f32() + N, N);
}

void CpuBackend::masked_loss_sum(const Tensor& losses, const Tensor& targets, const Tensor& out) {
  constexpr const char* op = "masked_loss_sum";
  require(losses, op, "losses");
  require_sized(targets, losses.numel(), op, "targets", losses, "losses", DType::I32);
  require(out, op, "out", DType::F64);
  POUCH_CHECK(out.numel() == 2, "{}: out {} must hold 2 doubles (sum, count)", op, shape_str(out.shape()));
  cpu::masked_loss_sum(out.data<double>(), losses.f32(), targets.i32(), losses.numel());
}

void CpuBackend::ewc_fisher_accumulate(const Tensor& fisher, const Tensor& grads, double weight) {
  constexpr const char* op = "ewc_fisher_accumulate";
  require(fisher, op, "fisher");
  require_sized(grads, fisher.numel(), op, "grads", fisher, "fisher");
  cpu::ewc_fisher_accumulate(fisher.f32(), grads.f32(), weight, fisher.numel());
}

void CpuBackend::ewc_penalty_gradient(const Tensor& grads, const Tensor& values, const Tensor& anchor,
                                      const Tensor& fisher, float lambda) {
  constexpr const char* op = "ewc_penalty_gradient";
  require(fisher, op, "fisher");
  for (const auto& [t, name] : {std::pair{&grads, "grads"}, {&values, "values"}, {&anchor, "anchor"}}) {
    require_sized(*t, fisher.numel(), op, name, fisher, "fisher");
  }
  cpu::ewc_penalty_gradient(grads.f32(), values.f32(), anchor.f32(), fisher.f32(), lambda, fisher.numel());
}

void CpuBackend::ewc_penalty_sum(const Tensor& out, const Tensor& values, const Tensor& anchor, const Tensor& fisher) {
  constexpr const char* op = "ewc_penalty_sum";
  require(fisher, op, "fisher");
  for (const auto& [t, name] : {std::pair{&values, "values"}, {&anchor, "anchor"}}) {
    require_sized(*t, fisher.numel(), op, name, fisher, "fisher");
  }
  require(out, op, "out", DType::F64);
  POUCH_CHECK(out.numel() == 1, "{}: out {} must hold 1 double", op, shape_str(out.shape()));
  out.data<double>()[0] = cpu::ewc_penalty_sum(values.f32(), anchor.f32(), fisher.f32(), fisher.numel());
}

}  // namespace pouch
