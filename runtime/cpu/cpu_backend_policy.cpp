// CpuBackend's ops of the policy losses, the masked loss sum and EWC: checks,
// then the host kernels of runtime/cpu/policy_stats.h, ewc.h and the
// row-scaled forms of cross_entropy.h and vocab_parallel_ce.h.
#include "runtime/cpu/cpu_backend.h"
#include "runtime/cpu/cross_entropy.h"
#include "runtime/cpu/ewc.h"
#include "runtime/cpu/policy_stats.h"
#include "runtime/cpu/vocab_parallel_ce.h"

namespace pouch {
namespace {

void require_on_cpu(const Tensor& t, const char* op, const char* name, DType dtype = DType::F32) {
  POUCH_CHECK(t.defined(), "{}: {} is undefined", op, name);
  POUCH_CHECK(t.dtype() == dtype && t.device() == Device::CPU, "{}: {} is {} {} on {}, expected {} on the CPU", op,
              name, dtype_name(t.dtype()), shape_str(t.shape()), device_name(t.device()), dtype_name(dtype));
}

void require_count(const Tensor& t, std::int64_t numel, const char* op, const char* name) {
  POUCH_CHECK(t.numel() == numel, "{}: {} {} has {} elements, expected {}", op, name, shape_str(t.shape()), t.numel(),
              numel);
}

// logits [N, V] with V >= 1: returns N and V.
std::pair<std::int64_t, std::int64_t> rows_of(const Tensor& logits, const char* op) {
  require_on_cpu(logits, op, "logits");
  POUCH_CHECK(logits.ndim() >= 1 && logits.dim(-1) >= 1, "{}: logits {} have empty rows", op,
              shape_str(logits.shape()));
  const std::int64_t V = logits.dim(-1);
  return {logits.numel() / V, V};
}

float* optional_out(const Tensor& t, std::int64_t numel, const char* op, const char* name) {
  if (!t.defined()) return nullptr;
  require_on_cpu(t, op, name);
  require_count(t, numel, op, name);
  return t.f32();
}

}  // namespace

void CpuBackend::cross_entropy_row_weighted(const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                            const Tensor& targets, const Tensor& row_weights) {
  constexpr const char* op = "cross_entropy_row_weighted";
  const auto [N, V] = rows_of(logits, op);
  require_on_cpu(targets, op, "targets", DType::I32);
  require_count(targets, N, op, "targets");
  require_on_cpu(row_weights, op, "row_weights");
  require_count(row_weights, N, op, "row_weights");
  float* pl = optional_out(losses, N, op, "losses");
  float* pd = optional_out(dlogits, N * V, op, "dlogits");
  cpu::cross_entropy_forward_backward(pl, pd, logits.f32(), targets.i32(), N, V, 1.0f, row_weights.f32());
}

void CpuBackend::vocab_parallel_ce_finish_row_weighted(const Tensor& losses, const Tensor& dlogits,
                                                       const Tensor& logits, const Tensor& row_max, const Tensor& stats,
                                                       const Tensor& targets, long vocab_start, long valid,
                                                       const Tensor& row_weights) {
  constexpr const char* op = "vocab_parallel_ce_finish_row_weighted";
  const auto [N, V] = rows_of(logits, op);
  POUCH_CHECK(valid >= 0 && valid <= V, "{}: valid {} outside [0, {}]", op, valid, V);
  require_on_cpu(row_max, op, "row_max");
  require_count(row_max, N, op, "row_max");
  require_on_cpu(stats, op, "stats");
  require_count(stats, 2 * N, op, "stats");
  require_on_cpu(targets, op, "targets", DType::I32);
  require_count(targets, N, op, "targets");
  require_on_cpu(row_weights, op, "row_weights");
  require_count(row_weights, N, op, "row_weights");
  float* pl = optional_out(losses, N, op, "losses");
  float* pd = optional_out(dlogits, N * V, op, "dlogits");
  cpu::vocab_parallel_ce_finish(pl, pd, logits.f32(), row_max.f32(), stats.f32(), stats.f32() + N, targets.i32(), N, V,
                                valid, vocab_start, 1.0f, row_weights.f32());
}

void CpuBackend::softmax_entropy_stats(const Tensor& stats, const Tensor& logits, const Tensor& row_max, long valid) {
  constexpr const char* op = "softmax_entropy_stats";
  const auto [N, V] = rows_of(logits, op);
  POUCH_CHECK(valid >= 0 && valid <= V, "{}: valid {} outside [0, {}]", op, valid, V);
  require_on_cpu(row_max, op, "row_max");
  require_count(row_max, N, op, "row_max");
  require_on_cpu(stats, op, "stats");
  require_count(stats, 2 * N, op, "stats");
  cpu::softmax_entropy_stats(stats.f32(), stats.f32() + N, logits.f32(), row_max.f32(), N, V, valid);
}

void CpuBackend::softmax_entropy_finish(const Tensor& entropy, const Tensor& stats) {
  constexpr const char* op = "softmax_entropy_finish";
  require_on_cpu(entropy, op, "entropy");
  require_on_cpu(stats, op, "stats");
  const std::int64_t N = entropy.numel();
  require_count(stats, 2 * N, op, "stats");
  cpu::softmax_entropy_finish(entropy.f32(), stats.f32(), stats.f32() + N, N);
}

void CpuBackend::masked_loss_sum(const Tensor& losses, const Tensor& targets, const Tensor& out) {
  constexpr const char* op = "masked_loss_sum";
  require_on_cpu(losses, op, "losses");
  require_on_cpu(targets, op, "targets", DType::I32);
  require_count(targets, losses.numel(), op, "targets");
  require_on_cpu(out, op, "out", DType::F64);
  require_count(out, 2, op, "out");
  cpu::masked_loss_sum(out.data<double>(), losses.f32(), targets.i32(), losses.numel());
}

void CpuBackend::ewc_fisher_accumulate(const Tensor& fisher, const Tensor& grads, double weight) {
  constexpr const char* op = "ewc_fisher_accumulate";
  require_on_cpu(fisher, op, "fisher");
  require_on_cpu(grads, op, "grads");
  require_count(grads, fisher.numel(), op, "grads");
  cpu::ewc_fisher_accumulate(fisher.f32(), grads.f32(), weight, fisher.numel());
}

void CpuBackend::ewc_penalty_gradient(const Tensor& grads, const Tensor& values, const Tensor& anchor,
                                      const Tensor& fisher, float lambda) {
  constexpr const char* op = "ewc_penalty_gradient";
  for (const auto& [t, name] : {std::pair{&grads, "grads"}, {&values, "values"}, {&anchor, "anchor"}}) {
    require_on_cpu(*t, op, name);
    require_count(*t, fisher.numel(), op, name);
  }
  require_on_cpu(fisher, op, "fisher");
  cpu::ewc_penalty_gradient(grads.f32(), values.f32(), anchor.f32(), fisher.f32(), lambda, fisher.numel());
}

void CpuBackend::ewc_penalty_sum(const Tensor& out, const Tensor& values, const Tensor& anchor, const Tensor& fisher) {
  constexpr const char* op = "ewc_penalty_sum";
  require_on_cpu(fisher, op, "fisher");
  for (const auto& [t, name] : {std::pair{&values, "values"}, {&anchor, "anchor"}}) {
    require_on_cpu(*t, op, name);
    require_count(*t, fisher.numel(), op, name);
  }
  require_on_cpu(out, op, "out", DType::F64);
  require_count(out, 1, op, "out");
  out.data<double>()[0] = cpu::ewc_penalty_sum(values.f32(), anchor.f32(), fisher.f32(), fisher.numel());
}

}  // namespace pouch
