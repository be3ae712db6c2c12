#include "bench/dp_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "model/gpt.h"
#include "parallel/gradient_bucket_reducer.h"
#include "runtime/adamw_optimizer.h"
#include "runtime/rng.h"

namespace pouch {

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The slowest rank's value.
double max_over(const Communicator& world_const, double v) {
  auto& world = const_cast<Communicator&>(world_const);
  Tensor t = Tensor::empty({1}, DType::F64);
  t.data<double>()[0] = v;
  world.all_reduce(t, ReduceOp::Max);
  return t.data<double>()[0];
}

}  // namespace

DpBenchResult run_dp_bench(const ParallelContext& ctx, const DpBenchConfig& cfg, bool print) {
  if (ctx.tp_size() != 1) fail("pouch bench dp measures data parallelism: run it with parallel tp = 1");
  Communicator& world = ctx.world();
  auto be = make_backend(Device::CPU);
  const std::int64_t B = cfg.batch_per_rank, T = cfg.model.seq_len, V = cfg.model.vocab_size;
  GPT model(cfg.model, *be);
  model.init_weights(0);
  OptimConfig oc;
  AdamWOptimizer opt(model.parameters(), oc, *be);
  GradientBucketReducer overlap(model.parameters(), ctx.dp(),
                                {static_cast<std::int64_t>(cfg.bucket_mb * (1 << 20)), true});
  GradientBucketReducer serial(model.parameters(), ctx.dp(),
                               {static_cast<std::int64_t>(cfg.bucket_mb * (1 << 20)), false});
  Tensor x = Tensor::empty({B, T}, DType::I32), y = Tensor::empty({B, T}, DType::I32);
  RngStream rng(1, static_cast<std::uint64_t>(ctx.rank()));
  for (std::int64_t i = 0; i < B * T; ++i) {
    x.i32()[i] = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(V)));
    y.i32()[i] = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(V)));
  }
  const float dloss = 1.0f / static_cast<float>(B * T * ctx.dp_size());

  auto step = [&](GradientBucketReducer* reducer) {
    model.parameters().zero_grad();
    if (reducer) {
      model.set_grad_ready_hook([reducer](const Parameter& p) { reducer->mark_ready(p); });
      reducer->begin();
    } else {
      model.set_grad_ready_hook(nullptr);
    }
    model.forward(x, y, dloss);
    model.backward();
    if (reducer) reducer->finish();
    opt.step(1e-4f);
  };
  auto timed_steps = [&](GradientBucketReducer* reducer, bool everyone, std::vector<double>* waits) {
    std::vector<double> times;
    for (std::int64_t s = 0; s <= cfg.steps; ++s) {
      world.barrier();
      const auto t0 = Clock::now();
      if (everyone || ctx.rank() == 0) step(reducer);
      const double dt = max_over(world, std::chrono::duration<double>(Clock::now() - t0).count());
      if (s == 0) continue;  // warm-up
      times.push_back(dt);
      if (waits && reducer) waits->push_back(max_over(world, reducer->last_wait_seconds()));
    }
    return median(times);
  };

  DpBenchResult r;
  r.ranks = ctx.dp_size();
  r.buckets = overlap.num_buckets();
  r.single_step_s = timed_steps(nullptr, false, nullptr);
  // The reduction alone: every bucket ready at once, nothing to hide behind.
  std::vector<double> comm;
  for (std::int64_t s = 0; s <= cfg.steps; ++s) {
    world.barrier();
    const auto t0 = Clock::now();
    serial.begin();
    for (auto& p : model.parameters()) serial.mark_ready(p);
    serial.finish();
    const double dt = max_over(world, std::chrono::duration<double>(Clock::now() - t0).count());
    if (s > 0) comm.push_back(dt);
  }
  r.comm_s = median(comm);
  r.local_step_s = timed_steps(nullptr, true, nullptr);
  std::vector<double> overlap_waits, serial_waits;
  r.overlap_step_s = timed_steps(&overlap, true, &overlap_waits);
  r.serial_step_s = timed_steps(&serial, true, &serial_waits);
  r.overlap_wait_s = median(overlap_waits);
  r.serial_wait_s = median(serial_waits);
  const double tokens = static_cast<double>(B * T);
  r.single_tokens_per_s = tokens / r.single_step_s;
  r.overlap_tokens_per_s = tokens * r.ranks / r.overlap_step_s;
  r.serial_tokens_per_s = tokens * r.ranks / r.serial_step_s;

  if (print && ctx.is_root()) {
    const double grad_mb = static_cast<double>(model.parameters().grads().nbytes()) / (1 << 20);
    std::printf("data parallel: %d ranks, per-rank batch %lld x %lld, %.1f MiB of gradients in %zu buckets\n", r.ranks,
                static_cast<long long>(B), static_cast<long long>(T), grad_mb, r.buckets);
    std::printf("dp=1 (rank 0 alone)     %8.1f ms/step  %9.0f tokens/s\n", r.single_step_s * 1e3,
                r.single_tokens_per_s);
    std::printf("dp=%d no reduction      %8.1f ms/step  %9.0f tokens/s  (communication free)\n", r.ranks,
                r.local_step_s * 1e3, tokens * r.ranks / r.local_step_s);
    std::printf("dp=%d overlap on        %8.1f ms/step  %9.0f tokens/s  exposed all-reduce wait %.2f ms\n", r.ranks,
                r.overlap_step_s * 1e3, r.overlap_tokens_per_s, r.overlap_wait_s * 1e3);
    std::printf("dp=%d overlap off       %8.1f ms/step  %9.0f tokens/s  exposed all-reduce wait %.2f ms\n", r.ranks,
                r.serial_step_s * 1e3, r.serial_tokens_per_s, r.serial_wait_s * 1e3);
    std::printf("all-reduce alone        %8.2f ms per step (the whole gradient, bucket by bucket)\n", r.comm_s * 1e3);
    std::printf("weak-scaling efficiency %8.1f%%  (dp=%d overlap tokens/s / (%d x dp=1 tokens/s))\n",
                100.0 * r.efficiency(), r.ranks, r.ranks);
    std::printf("hidden all-reduce share %8.1f%%  (1 - exposed wait with overlap / exposed wait without)\n",
                100.0 * r.hidden_share());
    std::printf("step time added by the reduction: %.1f ms with overlap, %.1f ms without (vs no reduction)\n",
                (r.overlap_step_s - r.local_step_s) * 1e3, (r.serial_step_s - r.local_step_s) * 1e3);
    std::printf("overlap speed-up        %8.3fx (step time off / on)\n", r.serial_step_s / r.overlap_step_s);
  }
  return r;
}

}  // namespace pouch
