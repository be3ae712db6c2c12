// adamw_update, sum_squares, sum_squares_segments.
#include <fmt/format.h>

#include "tests/runtime/op_harness/case_helpers.h"
#include "tests/runtime/op_harness/reference.h"

namespace pouch::op_harness {
namespace {

// param, m and v are read and written. param is small against the step
// (|p| <= 0.01, steps of about lr), so an error in the update, the bias
// corrections or the decay (lr * wd * p: 1e-4 to 1e-3 of the result here)
// moves param far more than the f32 bound; a parameter of order 1 would hide
// it under a step of 1e-3.
void add_adamw(std::vector<OpCase>& cases, i64 n, AdamWParams hp) {
  const std::string variant = fmt::format("n={} lr={} b1={} b2={} eps={} wd={} step={} grad_scale={}", n, hp.lr,
                                          hp.beta1, hp.beta2, hp.eps, hp.weight_decay, hp.step, hp.grad_scale);
  cases.push_back({"adamw_update", variant, Precision::F32, [=](std::uint32_t seed) {
                     struct In {
                       std::vector<float> p, grad, m, v;
                     };
                     Rng rng(seed);
                     auto in = share(In{rng.uniform(n, -0.01f, 0.01f), rng.uniform(n), rng.uniform(n, -0.1f, 0.1f),
                                        rng.uniform(n, 1e-4f, 1e-2f)});
                     Problem pr;
                     pr.run = [=](Backend& be) {
                       Tensor p = upload(be, in->p, {n}), m = upload(be, in->m, {n}), v = upload(be, in->v, {n});
                       be.adamw_update(p, upload(be, in->grad, {n}), m, v, hp);
                       return Outputs{read(be, "param", p), read(be, "m", m), read(be, "v", v)};
                     };
                     pr.reference = [=] {
                       Vec p = to_vec(in->p), m = to_vec(in->m), v = to_vec(in->v);
                       ref::adamw(p, m, v, to_vec(in->grad), hp);
                       return Outputs{{"param", p}, {"m", m}, {"v", v}};
                     };
                     return pr;
                   }});
}

void add_sum_squares(std::vector<OpCase>& cases, i64 n) {
  cases.push_back({"sum_squares", fmt::format("n={}", n), Precision::F32, [=](std::uint32_t seed) {
                     Rng rng(seed);
                     auto x = share(rng.uniform(n));
                     Problem p;
                     p.run = [=](Backend& be) { return Outputs{{"sum", {be.sum_squares(upload(be, *x, {n}))}}}; };
                     p.reference = [=] { return Outputs{{"sum", {ref::sum_squares(to_vec(*x), 0, n)}}}; };
                     return p;
                   }});
}

void add_segments(std::vector<OpCase>& cases, std::string variant, i64 n, i64 slots,
                  std::vector<SquareSumSegment> segments) {
  cases.push_back({"sum_squares_segments", std::move(variant), Precision::F32, [=](std::uint32_t seed) {
                     Rng rng(seed);
                     auto x = share(rng.uniform(n));
                     Problem p;
                     p.run = [=](Backend& be) {
                       Tensor out = poisoned(be, {slots}, DType::F64);
                       be.sum_squares_segments(upload(be, *x, {n}), segments, out);
                       return Outputs{read(be, "out", out)};
                     };
                     p.reference = [=] {
                       Vec out(static_cast<std::size_t>(slots), 0.0);
                       for (const SquareSumSegment& s : segments)
                         out[s.slot] += ref::sum_squares(to_vec(*x), s.offset, s.numel);
                       return Outputs{{"out", out}};
                     };
                     return p;
                   }});
}

}  // namespace

void add_optimizer_cases(std::vector<OpCase>& cases) {
  const AdamWParams hps[] = {
      {0.1f, 0.9f, 0.95f, 1e-8f, 0.0f, 1, 1.0f},
      {0.05f, 0.9f, 0.999f, 1e-6f, 0.1f, 7, 0.5f},
      {0.1f, 0.8f, 0.95f, 1e-8f, 0.01f, 1000, 2.0f},
  };
  for (i64 n : {i64{1}, i64{7}, i64{1023}, i64{63 * 1000}})
    for (const AdamWParams& hp : hps) add_adamw(cases, n, hp);

  for (i64 n : {i64{1}, i64{7}, i64{63}, i64{1000}, i64{1023}, i64{1000 * 1023}}) add_sum_squares(cases, n);

  // Slot 0 sums two segments, slot 3 gets none (0), slot 1 an empty one, slot
  // 4 overlaps the others (the whole buffer).
  add_segments(cases, "n=63000 slots=5: two segments in slot 0, an empty one, a slot without, the whole buffer", 63000,
               5, {{0, 1000, 0}, {1000, 7, 2}, {1007, 63, 0}, {5000, 0, 1}, {0, 63000, 4}});
  add_segments(cases, "n=1023 slots=1: one element at the end", 1023, 1, {{1022, 1, 0}});
  add_segments(cases, "n=7 slots=7: one per element, in reverse slot order", 7, 7,
               {{0, 1, 6}, {1, 1, 5}, {2, 1, 4}, {3, 1, 3}, {4, 1, 2}, {5, 1, 1}, {6, 1, 0}});
}

}  // namespace pouch::op_harness
