// The ops of the policy losses, the loss sum and EWC: cross_entropy_row_weighted,
// vocab_parallel_ce_finish_row_weighted, softmax_entropy_stats and _finish,
// masked_loss_sum, ewc_fisher_accumulate, ewc_penalty_gradient, ewc_penalty_sum.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tests/runtime/op_harness/case_helpers.h"
#include "tests/runtime/op_harness/reference.h"

namespace pouch::op_harness {
namespace {

using ref::Ids;

// Every 7th target ignored (-1) from row 3 on, the rest in [0, V).
std::vector<std::int32_t> some_ignored(Rng& rng, i64 N, i64 V) {
  std::vector<std::int32_t> t = rng.ints(N, 0, static_cast<std::int32_t>(V - 1));
  for (i64 n = 3; n < N; n += 7) t[n] = -1;
  return t;
}

// Row weights of both signs, every 5th exactly 0 (a position without an action).
std::vector<float> row_weights(Rng& rng, i64 N) {
  std::vector<float> w = rng.uniform(N, -2.0f, 2.0f);
  for (i64 n = 4; n < N; n += 5) w[n] = 0.0f;
  return w;
}

struct CeIn {
  std::vector<float> logits, weights;
  std::vector<std::int32_t> targets;
};

// The reference of a row-weighted op: each row alone with grad_scale = its weight.
template <typename RowRef>
Outputs per_row_reference(i64 N, i64 V, const CeIn& in, RowRef row_ref) {
  Vec losses(static_cast<std::size_t>(N)), dlogits(static_cast<std::size_t>(N * V));
  for (i64 n = 0; n < N; ++n) {
    Vec l(1), d(static_cast<std::size_t>(V));
    const Vec row(in.logits.begin() + n * V, in.logits.begin() + (n + 1) * V);
    row_ref(l, d, row, Ids{in.targets[n]}, static_cast<double>(in.weights[n]));
    losses[n] = l[0];
    std::copy(d.begin(), d.end(), dlogits.begin() + n * V);
  }
  return {{"losses", losses}, {"dlogits", dlogits}};
}

void add_ce_row_weighted(std::vector<OpCase>& cases, i64 N, i64 V, bool in_place) {
  cases.push_back(
      {"cross_entropy_row_weighted", fmt::format("N={} V={} {}", N, V, in_place ? "dlogits=logits" : "dlogits apart"),
       Precision::F32, [=](std::uint32_t seed) {
         Rng rng(seed);
         auto in = share(CeIn{rng.uniform(N * V, -4.0f, 4.0f), row_weights(rng, N), some_ignored(rng, N, V)});
         Problem p;
         p.run = [=](Backend& be) {
           Tensor logits = upload(be, in->logits, {N, V}), losses = poisoned(be, {N});
           Tensor dlogits = in_place ? logits : poisoned(be, {N, V});
           be.cross_entropy_row_weighted(losses, dlogits, logits, upload_ids(be, in->targets, {N}),
                                         upload(be, in->weights, {N}));
           return Outputs{read(be, "losses", losses), read(be, "dlogits", dlogits)};
         };
         p.reference = [=] {
           return per_row_reference(N, V, *in, [&](Vec& l, Vec& d, const Vec& row, const Ids& t, double w) {
             ref::cross_entropy(l, d, row, t, 1, V, w);
           });
         };
         return p;
       }});
}

// One shard of V columns, the first `valid` real, at vocab_start 0: the
// reductions are this shard's own (what a tp = 1 all-reduce leaves).
void add_vp_finish_row_weighted(std::vector<OpCase>& cases, i64 N, i64 V, i64 valid) {
  cases.push_back(
      {"vocab_parallel_ce_finish_row_weighted", fmt::format("N={} V={} valid={}", N, V, valid), Precision::F32,
       [=](std::uint32_t seed) {
         Rng rng(seed);
         CeIn raw{rng.uniform(N * V, -4.0f, 4.0f), row_weights(rng, N), some_ignored(rng, N, valid)};
         for (i64 n = 0; n < N; ++n)
           for (i64 v = valid; v < V; ++v) raw.logits[n * V + v] = 50.0f;  // padding: must not be read
         auto in = share(std::move(raw));
         const Vec row_max = ref::vocab_parallel_max(to_vec(in->logits), N, V, valid);
         auto reduced = share(
             std::pair{to_floats(row_max),
                       to_floats(ref::vocab_parallel_stats(to_vec(in->logits), row_max, in->targets, N, V, valid, 0))});
         Problem p;
         p.run = [=](Backend& be) {
           Tensor logits = upload(be, in->logits, {N, V}), losses = poisoned(be, {N});
           Tensor dlogits = poisoned(be, {N, V});
           be.vocab_parallel_ce_finish_row_weighted(
               losses, dlogits, logits, upload(be, reduced->first, {N}), upload(be, reduced->second, {2, N}),
               upload_ids(be, in->targets, {N}), 0, static_cast<long>(valid), upload(be, in->weights, {N}));
           return Outputs{read(be, "losses", losses), read(be, "dlogits", dlogits)};
         };
         p.reference = [=] {
           Vec losses(static_cast<std::size_t>(N)), dlogits(static_cast<std::size_t>(N * V));
           const Vec m = to_vec(reduced->first), st = to_vec(reduced->second);
           for (i64 n = 0; n < N; ++n) {
             Vec l(1), d(static_cast<std::size_t>(V));
             const Vec row(in->logits.begin() + n * V, in->logits.begin() + (n + 1) * V);
             ref::vocab_parallel_finish(l, d, row, Vec{m[n]}, Vec{st[n], st[N + n]}, Ids{in->targets[n]}, 1, V, valid,
                                        0, in->weights[n]);
             losses[n] = l[0];
             std::copy(d.begin(), d.end(), dlogits.begin() + n * V);
           }
           return Outputs{{"losses", losses}, {"dlogits", dlogits}};
         };
         return p;
       }});
}

// Entropy statistics of rows whose max is lifted a little above the real
// one (a max reduced over other ranks), so z < 0 everywhere.
void add_entropy(std::vector<OpCase>& cases, i64 N, i64 V, i64 valid) {
  struct In {
    std::vector<float> logits, row_max;
  };
  auto make = [=](std::uint32_t seed) {
    Rng rng(seed);
    In in{rng.uniform(N * V, -4.0f, 4.0f), {}};
    const Vec m = ref::vocab_parallel_max(to_vec(in.logits), N, V, valid);
    const std::vector<float> lift = rng.uniform(N, 0.0f, 1.0f);
    for (i64 n = 0; n < N; ++n) in.row_max.push_back(static_cast<float>(m[n] + lift[n]));
    return share(std::move(in));
  };
  auto stats_ref = [=](const In& in) {
    Vec st(static_cast<std::size_t>(2 * N), 0.0);
    for (i64 n = 0; n < N; ++n)
      for (i64 i = 0; i < valid; ++i) {
        const double z = static_cast<double>(in.logits[n * V + i]) - in.row_max[n], e = std::exp(z);
        st[n] += e;
        st[N + n] += e * z;
      }
    return st;
  };
  const std::string variant = fmt::format("N={} V={} valid={}", N, V, valid);
  cases.push_back({"softmax_entropy_stats", variant, Precision::F32, [=](std::uint32_t seed) {
                     auto in = make(seed);
                     Problem p;
                     p.run = [=](Backend& be) {
                       Tensor stats = poisoned(be, {2, N});
                       be.softmax_entropy_stats(stats, upload(be, in->logits, {N, V}), upload(be, in->row_max, {N}),
                                                static_cast<long>(valid));
                       return Outputs{read(be, "stats", stats)};
                     };
                     p.reference = [=] { return Outputs{{"stats", stats_ref(*in)}}; };
                     return p;
                   }});
  cases.push_back({"softmax_entropy_finish", variant, Precision::F32, [=](std::uint32_t seed) {
                     auto in = make(seed);
                     auto stats = share(to_floats(stats_ref(*in)));
                     Problem p;
                     p.run = [=](Backend& be) {
                       Tensor entropy = poisoned(be, {N});
                       be.softmax_entropy_finish(entropy, upload(be, *stats, {2, N}));
                       return Outputs{read(be, "entropy", entropy)};
                     };
                     p.reference = [=] {
                       Vec h(static_cast<std::size_t>(N));
                       for (i64 n = 0; n < N; ++n) {
                         const double s = (*stats)[n], t = (*stats)[N + n];
                         h[n] = std::log(s) - t / s;
                       }
                       return Outputs{{"entropy", h}};
                     };
                     return p;
                   }});
}

Tensor upload_f64(Backend& be, const Vec& v) {
  Tensor host = Tensor::empty({static_cast<i64>(v.size())}, DType::F64);
  std::copy(v.begin(), v.end(), host.data<double>());
  return upload_host(be, host);
}

// out is pre-filled ("+="): sum and count are added to what is there.
void add_masked_loss_sum(std::vector<OpCase>& cases, i64 N) {
  cases.push_back(
      {"masked_loss_sum", fmt::format("N={} out +=", N), Precision::F32, [=](std::uint32_t seed) {
         struct In {
           std::vector<float> losses, prior;
           std::vector<std::int32_t> targets;
         };
         Rng rng(seed);
         auto in = share(In{rng.uniform(N, 0.0f, 8.0f), rng.uniform(2, 1.0f, 100.0f), some_ignored(rng, N, 9)});
         Problem p;
         p.run = [=](Backend& be) {
           Tensor out = upload_f64(be, to_vec(in->prior));
           be.masked_loss_sum(upload(be, in->losses, {N}), upload_ids(be, in->targets, {N}), out);
           return Outputs{read(be, "out", out)};
         };
         p.reference = [=] {
           Vec out = to_vec(in->prior);
           for (i64 n = 0; n < N; ++n)
             if (in->targets[n] >= 0) {
               out[0] += in->losses[n];
               out[1] += 1.0;
             }
           return Outputs{{"out", out}};
         };
         return p;
       }});
}

struct EwcIn {
  std::vector<float> fisher, grads, values, anchor;
};

EwcIn ewc_inputs(std::uint32_t seed, i64 n) {
  Rng rng(seed);
  return {rng.uniform(n, 0.0f, 1.0f), rng.uniform(n), rng.uniform(n), rng.uniform(n)};
}

void add_ewc(std::vector<OpCase>& cases, i64 n) {
  const std::string variant = fmt::format("n={}", n);
  cases.push_back(
      {"ewc_fisher_accumulate", variant + " weight=0.25, fisher +=", Precision::F32, [=](std::uint32_t seed) {
         auto in = share(ewc_inputs(seed, n));
         Problem p;
         p.run = [=](Backend& be) {
           Tensor f = upload(be, in->fisher, {n});
           be.ewc_fisher_accumulate(f, upload(be, in->grads, {n}), 0.25);
           return Outputs{read(be, "fisher", f)};
         };
         p.reference = [=] {
           Vec f = to_vec(in->fisher);
           for (i64 i = 0; i < n; ++i) f[i] += 0.25 * in->grads[i] * in->grads[i];
           return Outputs{{"fisher", f}};
         };
         return p;
       }});
  cases.push_back({"ewc_penalty_gradient", variant + " lambda=3, grads +=", Precision::F32, [=](std::uint32_t seed) {
                     auto in = share(ewc_inputs(seed, n));
                     Problem p;
                     p.run = [=](Backend& be) {
                       Tensor g = upload(be, in->grads, {n});
                       be.ewc_penalty_gradient(g, upload(be, in->values, {n}), upload(be, in->anchor, {n}),
                                               upload(be, in->fisher, {n}), 3.0f);
                       return Outputs{read(be, "grads", g)};
                     };
                     p.reference = [=] {
                       Vec g = to_vec(in->grads);
                       for (i64 i = 0; i < n; ++i)
                         g[i] += 3.0 * in->fisher[i] * (static_cast<double>(in->values[i]) - in->anchor[i]);
                       return Outputs{{"grads", g}};
                     };
                     return p;
                   }});
  cases.push_back({"ewc_penalty_sum", variant, Precision::F32, [=](std::uint32_t seed) {
                     auto in = share(ewc_inputs(seed, n));
                     Problem p;
                     p.run = [=](Backend& be) {
                       Tensor out = poisoned(be, {1}, DType::F64);
                       be.ewc_penalty_sum(out, upload(be, in->values, {n}), upload(be, in->anchor, {n}),
                                          upload(be, in->fisher, {n}));
                       return Outputs{read(be, "out", out)};
                     };
                     p.reference = [=] {
                       double s = 0.0;
                       for (i64 i = 0; i < n; ++i) {
                         const double d = static_cast<double>(in->values[i]) - in->anchor[i];
                         s += in->fisher[i] * d * d;
                       }
                       return Outputs{{"out", {s}}};
                     };
                     return p;
                   }});
}

}  // namespace

void add_policy_cases(std::vector<OpCase>& cases) {
  const std::pair<i64, i64> shapes[] = {{1, 1}, {7, 63}, {63, 1000}, {1023, 7}, {7, 1023}};
  for (auto [N, V] : shapes)
    for (bool in_place : {false, true}) add_ce_row_weighted(cases, N, V, in_place);
  for (auto [N, V, valid] : {std::tuple<i64, i64, i64>{1, 1, 1}, {7, 63, 60}, {63, 1000, 1000}, {1023, 7, 7}})
    add_vp_finish_row_weighted(cases, N, V, valid);
  for (auto [N, V, valid] : {std::tuple<i64, i64, i64>{1, 1, 1}, {7, 63, 60}, {63, 1000, 1000}, {1023, 7, 7}})
    add_entropy(cases, N, V, valid);
  for (i64 N : {i64{1}, i64{7}, i64{63}, i64{1000}, i64{1023}}) add_masked_loss_sum(cases, N);
  for (i64 n : {i64{1}, i64{7}, i64{63}, i64{1000}, i64{1023}}) add_ewc(cases, n);
}

}  // namespace pouch::op_harness
