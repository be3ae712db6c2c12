// cross_entropy_forward_backward and the vocab-parallel pieces
// (vocab_parallel_ce_max, _stats, _finish), alone and composed over two shards.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tests/runtime/op_harness/case_helpers.h"
#include "tests/runtime/op_harness/reference.h"

namespace pouch::op_harness {
namespace {

// Padding columns of a shard hold a logit above every real one: a kernel
// that reads one shows it in the max, the sums and the gradient.
constexpr float kPaddingLogit = 50.0f;

// Targets in [lo, hi], every 7th ignored (-1); row 0 never is, so N = 1 keeps a target.
std::vector<std::int32_t> targets_with_ignored(Rng& rng, i64 N, std::int32_t lo, std::int32_t hi) {
  std::vector<std::int32_t> t = rng.ints(N, lo, hi);
  for (i64 n = 3; n < N; n += 7) t[n] = -1;
  return t;
}

// Which outputs a cross-entropy case asks for; dlogits may alias the logits.
enum class CeOutputs { Both, LossesOnly, DlogitsOnly, DlogitsInPlace };

void add_cross_entropy(std::vector<OpCase>& cases, i64 N, i64 V, CeOutputs o, float grad_scale) {
  static const char* const kOutputs[] = {"losses+dlogits", "losses only", "dlogits only", "losses+dlogits=logits"};
  const std::string variant =
      fmt::format("N={} V={} grad_scale={} {}", N, V, grad_scale, kOutputs[static_cast<int>(o)]);
  const bool want_losses = o != CeOutputs::DlogitsOnly, want_dlogits = o != CeOutputs::LossesOnly;
  cases.push_back(
      {"cross_entropy_forward_backward", variant, Precision::F32, [=](std::uint32_t seed) {
         struct In {
           std::vector<float> logits;
           std::vector<std::int32_t> targets;
         };
         Rng rng(seed);
         auto in = share(
             In{rng.uniform(N * V, -4.0f, 4.0f), targets_with_ignored(rng, N, 0, static_cast<std::int32_t>(V - 1))});
         Problem p;
         p.run = [=](Backend& be) {
           Tensor logits = upload(be, in->logits, {N, V});
           Tensor losses = want_losses ? poisoned(be, {N}) : Tensor();
           Tensor dlogits = o == CeOutputs::DlogitsInPlace ? logits : want_dlogits ? poisoned(be, {N, V}) : Tensor();
           be.cross_entropy_forward_backward(losses, dlogits, logits, upload_ids(be, in->targets, {N}), grad_scale);
           Outputs out;
           if (want_losses) out.push_back(read(be, "losses", losses));
           if (want_dlogits) out.push_back(read(be, "dlogits", dlogits));
           return out;
         };
         p.reference = [=] {
           Vec losses(static_cast<std::size_t>(N)), dlogits(static_cast<std::size_t>(N * V));
           ref::cross_entropy(losses, dlogits, to_vec(in->logits), in->targets, N, V, grad_scale);
           Outputs out;
           if (want_losses) out.push_back({"losses", losses});
           if (want_dlogits) out.push_back({"dlogits", dlogits});
           return out;
         };
         return p;
       }});
}

// One rank's shard: columns [vocab_start, vocab_start + V), the first `valid` real.
struct Shard {
  i64 N, V, valid, vocab_start;
};

std::string shard_name(const Shard& s) {
  return fmt::format("N={} V={} valid={} vocab_start={}", s.N, s.V, s.valid, s.vocab_start);
}

std::vector<float> shard_logits(Rng& rng, const Shard& s) {
  std::vector<float> l = rng.uniform(s.N * s.V, -4.0f, 4.0f);
  for (i64 n = 0; n < s.N; ++n)
    for (i64 v = s.valid; v < s.V; ++v) l[n * s.V + v] = kPaddingLogit;
  return l;
}

// Targets local to the shard and on other ranks (row 0 local when the shard
// has real columns), every 7th ignored. Only the last shard has padding, so
// when this one does, no target lies at or past its real columns.
std::vector<std::int32_t> shard_targets(Rng& rng, const Shard& s) {
  const i64 lo = std::max<i64>(0, s.vocab_start - s.V);
  const i64 hi = s.valid < s.V ? s.vocab_start + s.valid - 1 : s.vocab_start + 2 * s.V;
  std::vector<std::int32_t> t =
      targets_with_ignored(rng, s.N, static_cast<std::int32_t>(lo), static_cast<std::int32_t>(hi));
  if (s.valid > 0)
    t[0] = static_cast<std::int32_t>(s.vocab_start + rng.ints(1, 0, static_cast<std::int32_t>(s.valid - 1))[0]);
  return t;
}

// The reduced inputs of steps 2 and 3, as the all-reduces would leave them:
// the global max is at least the local one, the global sum of exps adds the
// other ranks' terms, and a target on another rank brings its logit from there.
struct Reduced {
  std::vector<float> row_max, stats;
};

Reduced reduced_inputs(Rng& rng, const Shard& s, const std::vector<float>& logits,
                       const std::vector<std::int32_t>& targets) {
  const Vec local_max = ref::vocab_parallel_max(to_vec(logits), s.N, s.V, s.valid);
  const std::vector<float> lift = rng.uniform(s.N, 0.0f, 1.0f), others = rng.uniform(s.N, 0.5f, 5.0f);
  Vec row_max(static_cast<std::size_t>(s.N));
  for (i64 n = 0; n < s.N; ++n) row_max[n] = std::isinf(local_max[n]) ? lift[n] : local_max[n] + lift[n];
  Reduced r{to_floats(row_max), {}};
  Vec stats = ref::vocab_parallel_stats(to_vec(logits), to_vec(r.row_max), targets, s.N, s.V, s.valid, s.vocab_start);
  const std::vector<float> remote_logit = rng.uniform(s.N, -4.0f, 4.0f);
  for (i64 n = 0; n < s.N; ++n) {
    stats[n] += others[n];
    const i64 local = targets[n] - s.vocab_start;
    if (targets[n] >= 0 && (local < 0 || local >= s.valid)) stats[s.N + n] = remote_logit[n];
  }
  r.stats = to_floats(stats);
  return r;
}

// One shard's logits and targets with the other shards' reductions of them:
// the inputs of the vocab-parallel stats and finish steps, drawn in that order.
struct ShardInputs {
  std::vector<float> logits;
  std::vector<std::int32_t> targets;
  Reduced reduced;
};

ShardInputs shard_inputs(std::uint32_t seed, const Shard& s) {
  Rng rng(seed);
  ShardInputs in{shard_logits(rng, s), shard_targets(rng, s), {}};
  in.reduced = reduced_inputs(rng, s, in.logits, in.targets);
  return in;
}

void add_vp_max(std::vector<OpCase>& cases, Shard s) {
  cases.push_back({"vocab_parallel_ce_max", shard_name(s), Precision::F32, [=](std::uint32_t seed) {
                     Rng rng(seed);
                     auto logits = share(shard_logits(rng, s));
                     Problem p;
                     p.run = [=](Backend& be) {
                       Tensor row_max = poisoned(be, {s.N});
                       be.vocab_parallel_ce_max(row_max, upload(be, *logits, {s.N, s.V}), s.valid);
                       return Outputs{read(be, "row_max", row_max)};
                     };
                     p.reference = [=] {
                       return Outputs{{"row_max", ref::vocab_parallel_max(to_vec(*logits), s.N, s.V, s.valid)}};
                     };
                     return p;
                   }});
}

void add_vp_stats(std::vector<OpCase>& cases, Shard s) {
  cases.push_back(
      {"vocab_parallel_ce_stats", shard_name(s), Precision::F32, [=](std::uint32_t seed) {
         auto sh = share(shard_inputs(seed, s));
         Problem p;
         p.run = [=](Backend& be) {
           Tensor stats = poisoned(be, {2, s.N});
           be.vocab_parallel_ce_stats(stats, upload(be, sh->logits, {s.N, s.V}), upload(be, sh->reduced.row_max, {s.N}),
                                      upload_ids(be, sh->targets, {s.N}), s.vocab_start, s.valid);
           return Outputs{read(be, "stats", stats)};
         };
         p.reference = [=] {
           return Outputs{{"stats", ref::vocab_parallel_stats(to_vec(sh->logits), to_vec(sh->reduced.row_max),
                                                              sh->targets, s.N, s.V, s.valid, s.vocab_start)}};
         };
         return p;
       }});
}

void add_vp_finish(std::vector<OpCase>& cases, Shard s, CeOutputs o, float grad_scale) {
  static const char* const kOutputs[] = {"losses+dlogits", "losses only", "dlogits only", "losses+dlogits=logits"};
  const bool want_losses = o != CeOutputs::DlogitsOnly, want_dlogits = o != CeOutputs::LossesOnly;
  cases.push_back({"vocab_parallel_ce_finish",
                   fmt::format("{} grad_scale={} {}", shard_name(s), grad_scale, kOutputs[static_cast<int>(o)]),
                   Precision::F32, [=](std::uint32_t seed) {
                     auto sh = share(shard_inputs(seed, s));
                     Problem p;
                     p.run = [=](Backend& be) {
                       Tensor logits = upload(be, sh->logits, {s.N, s.V});
                       Tensor losses = want_losses ? poisoned(be, {s.N}) : Tensor();
                       Tensor dlogits = o == CeOutputs::DlogitsInPlace ? logits
                                        : want_dlogits                 ? poisoned(be, {s.N, s.V})
                                                                       : Tensor();
                       be.vocab_parallel_ce_finish(losses, dlogits, logits, upload(be, sh->reduced.row_max, {s.N}),
                                                   upload(be, sh->reduced.stats, {2, s.N}),
                                                   upload_ids(be, sh->targets, {s.N}), s.vocab_start, s.valid,
                                                   grad_scale);
                       Outputs out;
                       if (want_losses) out.push_back(read(be, "losses", losses));
                       if (want_dlogits) out.push_back(read(be, "dlogits", dlogits));
                       return out;
                     };
                     p.reference = [=] {
                       Vec losses(static_cast<std::size_t>(s.N)), dlogits(static_cast<std::size_t>(s.N * s.V));
                       ref::vocab_parallel_finish(losses, dlogits, to_vec(sh->logits), to_vec(sh->reduced.row_max),
                                                  to_vec(sh->reduced.stats), sh->targets, s.N, s.V, s.valid,
                                                  s.vocab_start, grad_scale);
                       Outputs out;
                       if (want_losses) out.push_back({"losses", losses});
                       if (want_dlogits) out.push_back({"dlogits", dlogits});
                       return out;
                     };
                     return p;
                   }});
}

// The three steps over two shards of a vocabulary of `vocab` columns, the
// all-reduces done on the host, against the full cross-entropy reference.
void add_vp_two_shards(std::vector<OpCase>& cases, i64 N, i64 vocab, float grad_scale) {
  cases.push_back(
      {"vocab_parallel_ce_finish",
       fmt::format("two shards composed, N={} vocab={} grad_scale={}, vs full cross-entropy", N, vocab, grad_scale),
       Precision::F32, [=](std::uint32_t seed) {
         struct In {
           std::vector<float> logits;  // [N, vocab]
           std::vector<std::int32_t> targets;
         };
         Rng rng(seed);
         auto in = share(In{rng.uniform(N * vocab, -4.0f, 4.0f),
                            targets_with_ignored(rng, N, 0, static_cast<std::int32_t>(vocab - 1))});
         const i64 width = (vocab + 1) / 2;
         Problem p;
         p.run = [=](Backend& be) {
           std::vector<Tensor> logits, row_max, stats;
           const Tensor targets = upload_ids(be, in->targets, {N});
           Vec global_max(static_cast<std::size_t>(N), -INFINITY), global_stats(static_cast<std::size_t>(2 * N), 0.0);
           for (i64 r = 0; r < 2; ++r) {
             const i64 valid = std::min(width, vocab - r * width);
             std::vector<float> shard(static_cast<std::size_t>(N * width), kPaddingLogit);
             for (i64 n = 0; n < N; ++n)
               std::copy_n(in->logits.begin() + n * vocab + r * width, valid, shard.begin() + n * width);
             logits.push_back(upload(be, shard, {N, width}));
             row_max.push_back(poisoned(be, {N}));
             be.vocab_parallel_ce_max(row_max[r], logits[r], valid);
             const Vec m = download(be, row_max[r]);
             for (i64 n = 0; n < N; ++n) global_max[n] = std::max(global_max[n], m[n]);
           }
           const Tensor reduced_max = upload(be, to_floats(global_max), {N});
           for (i64 r = 0; r < 2; ++r) {
             stats.push_back(poisoned(be, {2, N}));
             be.vocab_parallel_ce_stats(stats[r], logits[r], reduced_max, targets, r * width,
                                        std::min(width, vocab - r * width));
             const Vec st = download(be, stats[r]);
             for (i64 i = 0; i < 2 * N; ++i) global_stats[i] += st[i];
           }
           const Tensor reduced_stats = upload(be, to_floats(global_stats), {2, N});
           Vec losses, dlogits(static_cast<std::size_t>(N * vocab));
           for (i64 r = 0; r < 2; ++r) {
             const i64 valid = std::min(width, vocab - r * width);
             Tensor l = poisoned(be, {N});
             be.vocab_parallel_ce_finish(l, logits[r], logits[r], reduced_max, reduced_stats, targets, r * width, valid,
                                         grad_scale);
             if (r == 0) losses = download(be, l);
             const Vec d = download(be, logits[r]);
             for (i64 n = 0; n < N; ++n)
               std::copy_n(d.begin() + n * width, valid, dlogits.begin() + n * vocab + r * width);
           }
           return Outputs{{"losses", losses}, {"dlogits", dlogits}};
         };
         p.reference = [=] {
           Vec losses(static_cast<std::size_t>(N)), dlogits(static_cast<std::size_t>(N * vocab));
           ref::cross_entropy(losses, dlogits, to_vec(in->logits), in->targets, N, vocab, grad_scale);
           return Outputs{{"losses", losses}, {"dlogits", dlogits}};
         };
         return p;
       }});
}

}  // namespace

void add_loss_cases(std::vector<OpCase>& cases) {
  const std::pair<i64, i64> shapes[] = {{1, 1}, {7, 63}, {63, 1000}, {1023, 7}, {7, 1023}, {1000, 63}};
  for (auto [N, V] : shapes)
    for (CeOutputs o : {CeOutputs::Both, CeOutputs::LossesOnly, CeOutputs::DlogitsOnly, CeOutputs::DlogitsInPlace})
      add_cross_entropy(cases, N, V, o, o == CeOutputs::Both ? 0.25f : 1.0f);

  const Shard shards[] = {{1, 1, 1, 0}, {7, 63, 60, 0}, {1023, 7, 7, 7}, {63, 1000, 999, 1000}, {7, 1023, 1, 1023}};
  for (const Shard& s : shards) {
    add_vp_max(cases, s);
    add_vp_stats(cases, s);
    for (CeOutputs o : {CeOutputs::Both, CeOutputs::LossesOnly, CeOutputs::DlogitsOnly, CeOutputs::DlogitsInPlace})
      add_vp_finish(cases, s, o, o == CeOutputs::Both ? 0.5f : 1.0f);
  }
  // A rank whose shard is all padding (vocabulary smaller than the shards): max -inf, sum 0.
  add_vp_max(cases, {7, 7, 0, 63});
  add_vp_stats(cases, {7, 7, 0, 63});
  add_vp_two_shards(cases, 63, 1023, 1.0f);
  add_vp_two_shards(cases, 7, 1000, 0.5f);
}

}  // namespace pouch::op_harness
