// pouch bench: training-step throughput vs the PyTorch eager peer and the
// machine's sgemm peak, measured side by side in one run.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

#include "bench/checkpoint_bench.h"
#include "bench/collective_bench.h"
#include "bench/dp_bench.h"
#include "bench/serve_bench.h"
#include "bench/train_step_bench.h"
#include "launcher/command_line.h"
#include "launcher/commands.h"
#include "parallel/launcher_env.h"
#include "parallel/mpi_runtime.h"
#include "parallel/parallel_context.h"
#include "parallel/watchdog.h"
#include "runtime/cpu/sgemm_peak.h"
#include "runtime/threads.h"

namespace pouch {

namespace po = boost::program_options;

namespace {

constexpr const char* kBenchUsage = R"(usage: pouch bench train [options]
       pouch bench sgemm [--threads N]
       mpirun -np 2 pouch bench allreduce [--steps N]
       mpirun -np 2 pouch bench dp [--threads 1] [model and batch options]
       pouch bench ckpt [--dir DIR] [--repeats N] [model options]
       pouch bench serve [--requests N] [--max-tokens N] [--repeats N] [model options]

train: times a training step (forward, backward, AdamW) of pouch's GPT and
of the PyTorch eager peer (bench/torch_gpt_peer.py, same model, batch and
thread count; the peer runs with 1..N torch threads and its best is kept),
then prints tokens/s, the ratio pouch/peer, and the model FLOP/s
(6 x matmul parameters + 6 x layers x seq x d_model per token) as a share of
the sgemm peak measured in the same run. --profile adds pouch's time per
backend op.
sgemm: the machine's sgemm peak (the yardstick of MFU).
allreduce: all-reduce bus bandwidth of pouch's MPI communicator (blocking;
async with all handles in flight; blocking with peer wait "sleep") against
raw MPI_Allreduce on the same buffer at 1, 16 and 64 MiB, with the ratios;
--steps sets the all-reduces per timed round (default: by size).
dp: data-parallel weak scaling and overlap, one run under mpirun: tokens/s of
rank 0 alone (dp=1) and of all ranks (overlap on, then off), the exposed
all-reduce wait, the all-reduce alone, the weak-scaling efficiency and the
share of the all-reduce hidden behind backward. --batch is per rank
(default 4), --threads should be 1 (one core per rank).
ckpt: checkpoint write throughput against write()+fsync and dd conv=fsync of
the same bytes on the same disk, in one run: write_checkpoint_file + fsync and
the whole publish protocol (save_checkpoint: fsync, verifying re-read,
rename), with the ratios, then the resume time (restore_run_state with and
without verification, from the page cache and cold). The model defaults to
layers 8, d_model 384, heads 6, seq 256, vocab 8192 (about 210 MB of
weights + AdamW state); --dir (default ./pouch-ckpt-bench) must be on the disk
to measure.
serve: pouch serve on loopback, driven by its own keep-alive clients: tokens/s
and p50/p99 latency of POST /generate at 1, 4, 16 and 64 concurrent clients,
with fixed-length requests (ignore_eos: exactly --max-tokens each) and natural
ones (stopping at end-of-text), each alone and while a new model version is
swapped in every 250 ms, then GET /health requests/s at 16 connections.
--repeats N (default 1 here) runs it N times: medians and ranges. The model
defaults to r1-tiny's shape (layers 4, d_model 128, heads 4, seq 128, vocab 31).

Options)";

double sgemm_peak() { return std::max(cpu::measure_sgemm_gflops(1024, 0.5), cpu::measure_sgemm_gflops(512, 0.3)); }

// The model options of a benchmark with its own defaults: an option given
// on the command line wins over the default. Throws for a shape GPT cannot take.
GPTConfig model_shape(const po::variables_map& vm, std::int64_t layers, std::int64_t d_model, std::int64_t heads,
                      std::int64_t seq, std::int64_t vocab) {
  auto size = [&](const char* key, std::int64_t fallback) {
    return vm[key].defaulted() ? fallback : vm[key].as<std::int64_t>();
  };
  GPTConfig model;
  model.layers = size("layers", layers);
  model.d_model = size("d-model", d_model);
  model.heads = size("heads", heads);
  model.seq_len = size("seq", seq);
  model.vocab_size = size("vocab", vocab);
  if (model.layers <= 0 || model.d_model <= 0 || model.heads <= 0 || model.seq_len <= 0 || model.vocab_size <= 0)
    fail("every model size (--layers, --d-model, --heads, --seq, --vocab) must be positive");
  if (model.d_model % model.heads != 0) fail("--d-model must be divisible by --heads");
  return model;
}

}  // namespace

int run_bench_command(const std::vector<std::string>& args) {
  po::options_description opts(kBenchUsage);
  opts.add_options()("help,h", "print this help")("what", po::value<std::string>(),
                                                  "train | sgemm | allreduce | dp | ckpt | serve")(
      "layers", po::value<std::int64_t>()->default_value(4), "transformer blocks")(
      "d-model", po::value<std::int64_t>()->default_value(256), "model width")(
      "heads", po::value<std::int64_t>()->default_value(4), "attention heads")(
      "seq", po::value<std::int64_t>()->default_value(256), "sequence length")(
      "batch", po::value<std::int64_t>()->default_value(8), "sequences per step")(
      "vocab", po::value<std::int64_t>()->default_value(2048), "vocabulary size")(
      "steps", po::value<std::int64_t>()->default_value(10), "timed steps (median reported)")(
      "threads", po::value<int>()->default_value(0), "compute threads; 0 = all cores")(
      "profile", "also print pouch's time per backend op")("no-peer", "skip the PyTorch peer")(
      "python", po::value<std::string>()->default_value("/usr/bin/python3"), "Python with torch for the peer")(
      "peer-script", po::value<std::string>()->default_value(default_peer_script()), "the peer script")(
      "bucket-mb", po::value<double>()->default_value(4.0), "dp: gradient bucket size in MiB")(
      "dir", po::value<std::string>()->default_value("pouch-ckpt-bench"),
      "ckpt: scratch directory on the disk to measure")(
      "repeats", po::value<int>()->default_value(5),
      "ckpt (default 5), serve (default 1): interleaved repetitions (medians reported)")(
      "requests", po::value<int>()->default_value(256), "serve: POST /generate requests per concurrency level")(
      "max-tokens", po::value<std::int64_t>()->default_value(32), "serve: max_tokens of each request");
  po::positional_options_description pos;
  pos.add("what", 1);
  const po::variables_map vm = parse_options(args, opts, &pos);
  if (vm.count("help") || !vm.count("what")) {
    std::cout << opts;
    return vm.count("help") ? 0 : 2;
  }
  const std::string what = vm["what"].as<std::string>();
  set_compute_threads(vm["threads"].as<int>());
  const int threads = compute_threads();
  if (what == "sgemm") {
    std::printf("sgemm peak: %.1f GFLOP/s with %d threads (best of 512^3 and 1024^3)\n", sgemm_peak(), threads);
    return 0;
  }
  if (what == "allreduce") {
    // Started under mpirun/srun: MPI is initialised here unless main already did.
    std::unique_ptr<MpiRuntime> mpi;
    if (!mpi_is_running()) mpi = MpiRuntime::start_if_launched(detect_launch_env(process_environment()));
    AllreduceBenchConfig cfg;
    if (!vm["steps"].defaulted()) cfg.iterations = static_cast<int>(vm["steps"].as<std::int64_t>());
    run_allreduce_bench(cfg);
    return 0;
  }
  if (what == "dp") {
    // Weak scaling and overlap of data parallelism: under mpirun, one thread per rank.
    ParallelOptions popts;
    popts.tp = 1;
    const auto ctx = ParallelContext::create(popts);
    if (ctx->world_size() < 2) fail("pouch bench dp needs 2 or more ranks: mpirun -np 2 pouch bench dp");
    DpBenchConfig cfg;
    cfg.model.layers = vm["layers"].as<std::int64_t>();
    cfg.model.d_model = vm["d-model"].as<std::int64_t>();
    cfg.model.heads = vm["heads"].as<std::int64_t>();
    cfg.model.seq_len = vm["seq"].as<std::int64_t>();
    cfg.model.vocab_size = vm["vocab"].as<std::int64_t>();
    cfg.batch_per_rank = vm["batch"].defaulted() ? 4 : vm["batch"].as<std::int64_t>();
    cfg.steps = vm["steps"].defaulted() ? 6 : vm["steps"].as<std::int64_t>();
    cfg.bucket_mb = vm["bucket-mb"].as<double>();
    run_dp_bench(*ctx, cfg);
    return 0;
  }
  if (what == "ckpt") {
    // Checkpoint write/resume throughput vs raw write+fsync, one process.
    // Its own model defaults: >= 100 MB of state, the issue's floor.
    CkptBenchConfig cfg;
    cfg.model = model_shape(vm, 8, 384, 6, 256, 8192);
    cfg.dir = vm["dir"].as<std::string>();
    cfg.repeats = vm["repeats"].as<int>();
    if (cfg.repeats <= 0) fail("--repeats must be positive");
    run_checkpoint_bench(cfg);
    return 0;
  }
  if (what == "serve") {
    // r1-tiny's shape unless the options say otherwise.
    ServeBenchConfig cfg;
    cfg.model = model_shape(vm, 4, 128, 4, 128, 31);
    cfg.requests = vm["requests"].as<int>();
    cfg.max_tokens = vm["max-tokens"].as<std::int64_t>();
    cfg.repeats = vm["repeats"].defaulted() ? 1 : vm["repeats"].as<int>();
    run_serve_bench(cfg);
    return 0;
  }
  if (what != "train") fail("unknown benchmark '{}': use train, sgemm, allreduce, dp, ckpt or serve", what);

  TrainBenchConfig cfg;
  cfg.model.layers = vm["layers"].as<std::int64_t>();
  cfg.model.d_model = vm["d-model"].as<std::int64_t>();
  cfg.model.heads = vm["heads"].as<std::int64_t>();
  cfg.model.seq_len = vm["seq"].as<std::int64_t>();
  cfg.model.vocab_size = vm["vocab"].as<std::int64_t>();
  cfg.batch = vm["batch"].as<std::int64_t>();
  cfg.steps = vm["steps"].as<std::int64_t>();
  cfg.threads = threads;
  cfg.profile = vm.count("profile") > 0;
  if (cfg.model.layers <= 0 || cfg.model.d_model <= 0 || cfg.model.heads <= 0 || cfg.model.seq_len <= 0 ||
      cfg.model.vocab_size <= 0 || cfg.batch <= 0 || cfg.steps <= 0)
    fail("every size must be positive");
  if (cfg.model.d_model % cfg.model.heads != 0) fail("--d-model must be divisible by --heads");

  std::printf("config: layers %lld, d_model %lld, heads %lld, seq %lld, batch %lld, vocab %lld; %d threads\n",
              static_cast<long long>(cfg.model.layers), static_cast<long long>(cfg.model.d_model),
              static_cast<long long>(cfg.model.heads), static_cast<long long>(cfg.model.seq_len),
              static_cast<long long>(cfg.batch), static_cast<long long>(cfg.model.vocab_size), threads);
  const double peak = sgemm_peak();
  std::printf("sgemm peak:  %.1f GFLOP/s\n", peak);
  const TrainBenchResult r = run_pouch_train_bench(cfg);
  std::printf("pouch:       %8.0f tokens/s  %8.1f ms/step  model %.1f GFLOP/s = %.0f%% of sgemm peak\n", r.tokens_per_s,
              r.ms_per_step, r.model_gflops, 100.0 * r.model_gflops / peak);

  if (!vm.count("no-peer")) {
    PeerResult best;
    for (int t = 1; t <= threads; ++t) {
      const PeerResult p = run_torch_peer(vm["python"].as<std::string>(), vm["peer-script"].as<std::string>(), cfg, t);
      if (!p.error.empty()) {
        std::printf("torch peer (%d threads): failed: %s\n", t, p.error.c_str());
        continue;
      }
      std::printf("torch peer:  %8.0f tokens/s  %8.1f ms/step  (%d torch threads)\n", p.tokens_per_s, p.ms_per_step, t);
      if (p.tokens_per_s > best.tokens_per_s) best = p;
    }
    if (best.tokens_per_s > 0)
      std::printf("ratio pouch / torch (best, %d threads): %.2fx\n", best.threads, r.tokens_per_s / best.tokens_per_s);
  }
  if (cfg.profile) {
    std::printf("\npouch time per step by backend op (profiled step %.1f ms):\n", r.profiled_step_s * 1e3);
    std::vector<std::pair<std::string, OpTiming>> ops(r.profile.begin(), r.profile.end());
    std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
    for (const auto& [op, t] : ops)
      std::printf("  %-22s %8.2f ms  %5.1f%%  %lld calls\n", op.c_str(), t.seconds * 1e3,
                  100.0 * t.seconds / r.profiled_step_s, static_cast<long long>(t.calls));
  }
  return 0;
}

}  // namespace pouch
