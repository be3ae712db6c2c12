#include "bench/train_step_bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <memory>

#include "model/gpt.h"
#include "runtime/adamw_optimizer.h"
#include "runtime/rng.h"
#include "runtime/threads.h"

namespace pouch {

namespace {

using Clock = std::chrono::steady_clock;

void train_step(GPT& model, AdamWOptimizer& opt, const Tensor& x, const Tensor& y, double* loss) {
  model.parameters().zero_grad();
  *loss = model.forward(x, y, 1.0f / static_cast<float>(x.numel()));
  model.backward();
  opt.step(3e-4f);
}

}  // namespace

std::string default_peer_script() { return POUCH_PEER_SCRIPT; }

TrainBenchResult run_pouch_train_bench(const TrainBenchConfig& cfg) {
  set_compute_threads(cfg.threads);
  auto cpu = make_backend(Device::CPU);
  ProfilingBackend profiler(*cpu);
  const std::int64_t B = cfg.batch, T = cfg.model.seq_len, V = cfg.model.vocab_size;
  GPT model(cfg.model, *cpu);
  model.init_weights(0);
  OptimConfig oc;
  oc.weight_decay = 0.1f;
  oc.grad_clip = 0.0f;  // the peer does not clip either
  AdamWOptimizer opt(model.parameters(), oc, *cpu);
  // Targets are the inputs shifted by one, as the peer's torch.roll.
  Tensor x = Tensor::empty({B, T}, DType::I32), y = Tensor::empty({B, T}, DType::I32);
  RngStream rng(0, 0);
  for (std::int64_t i = 0; i < B * T; ++i)
    x.i32()[i] = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(V)));
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t t = 0; t < T; ++t) y.i32()[b * T + t] = x.i32()[b * T + (t + 1) % T];

  TrainBenchResult r;
  std::vector<double> times;
  for (std::int64_t i = 0; i < cfg.steps + 2; ++i) {
    const auto t0 = Clock::now();
    train_step(model, opt, x, y, &r.loss);
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (i >= 2) times.push_back(dt);
  }
  std::sort(times.begin(), times.end());
  const double med = times[times.size() / 2];
  r.ms_per_step = med * 1e3;
  r.tokens_per_s = static_cast<double>(B * T) / med;
  r.model_gflops = model.train_flops_per_token(T) * r.tokens_per_s / 1e9;

  if (cfg.profile) {
    // The same model on the profiling decorator, a few steps, per-step averages.
    GPT profiled(cfg.model, profiler);
    profiled.load_named(model.named_values(), "benchmark model");
    AdamWOptimizer popt(profiled.parameters(), oc, profiler);
    double loss = 0.0;
    train_step(profiled, popt, x, y, &loss);
    profiler.reset();
    constexpr int kProfileSteps = 3;
    const auto t0 = Clock::now();
    for (int i = 0; i < kProfileSteps; ++i) train_step(profiled, popt, x, y, &loss);
    r.profiled_step_s = std::chrono::duration<double>(Clock::now() - t0).count() / kProfileSteps;
    for (auto [op, t] : profiler.timings()) {
      t.seconds /= kProfileSteps;
      t.calls /= kProfileSteps;
      r.profile[op] = t;
    }
  }
  return r;
}

PeerResult run_torch_peer(const std::string& python, const std::string& script, const TrainBenchConfig& cfg,
                          int threads) {
  PeerResult r;
  r.threads = threads;
  const std::string cmd = fmt::format(
      "OMP_NUM_THREADS={} {} {} --layers {} --d-model {} --heads {} --seq {} --batch {} --vocab {} --steps {} "
      "--threads {} 2>&1",
      threads, python, script, cfg.model.layers, cfg.model.d_model, cfg.model.heads, cfg.model.seq_len, cfg.batch,
      cfg.model.vocab_size, cfg.steps, threads);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) {
    r.error = "cannot start " + cmd;
    return r;
  }
  std::string output;
  std::array<char, 512> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe.get())) output += buf.data();
  const auto pos = output.rfind("tokens_per_s=");
  if (pos == std::string::npos ||
      std::sscanf(output.c_str() + pos, "tokens_per_s=%lf ms_per_step=%lf", &r.tokens_per_s, &r.ms_per_step) != 2) {
    r.error = fmt::format("the peer printed no result: {}", output.substr(0, 400));
  }
  return r;
}

}  // namespace pouch
