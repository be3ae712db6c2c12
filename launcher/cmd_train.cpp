// pouch train: configure, then run the training loop (phases/schedule/schedule_runner.h).
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "launcher/command_line.h"
#include "launcher/commands.h"
#include "launcher/config_parser.h"
#include "launcher/stop_signals.h"
#include "parallel/cpu_mask_sharers.h"
#include "parallel/parallel_context.h"
#include "parallel/uniform_error.h"
#include "parallel/watchdog.h"
#include "phases/schedule/schedule_runner.h"
#include "runtime/cpu/blas_kernel_choice.h"
#include "runtime/device_setting.h"
#include "runtime/log.h"
#include "runtime/stop_request.h"
#include "runtime/threads.h"

namespace pouch {

namespace po = boost::program_options;

namespace {

constexpr const char* kTrainUsage = R"(usage: pouch train [--config FILE]... [--section.key=value]... [options]

Trains a GPT through the schedule of phases in its config ([phase.N]
sections: pretrain with a curriculum, ppo/grpo alignment, continual learning
published for `pouch serve --watch`; see the phase keys below). With no
arguments: the built-in model r1-tiny on the built-in reasoning task
(configs/r1-tiny.ini, compiled in) through every phase, a few minutes on 2
cores, reporting what each phase did in numbers.

Config: INI files (--config; later files and then command-line overrides
win). Without --config the built-in r1-tiny config is the base. Any key can
be overridden as --section.key=value (a phase's keys as
--phase.N.key=value), e.g. --phase.1.steps=100 --model.layers=2
--phase.3.lora_rank=4. Pre-train on your own token shards with
--phases=1 --data.path='data/train_*.bin' and the built-in task's samplers
off (--phase.1.curriculum=none --phase.1.quality_sampling=false
--phase.1.source_weights=), or a config of your own.

Checkpoints (full training state: weights, AdamW moments, position) go to
checkpoint.dir (default <run_dir>/checkpoints/step-N/) every
checkpoint.every_steps, at the end, and when SIGUSR1, SIGUSR2 or SIGTERM arrives
(what Slurm sends before a time limit or on preemption): the run then
finishes its step, writes a checkpoint and exits with status 75; continue it
with --resume=auto, bit for bit as if it had never stopped.

The run directory (train.run_dir, default runs/<train.name>) receives
config.ini (the resolved config), metrics.jsonl (one JSON object per step:
step, phase, phase_kind, loss, lr, ..., each phase's own numbers and eval
fields), serve/ (weights the continual phase publishes for `pouch serve
--watch`) and, at the end, model.h5 (the weights, tokenizer and config).

Options)";

// The ranks of a node divide the CPUs they share (runtime/threads.h), before
// the first OpenMP region creates the pool. Collective: every rank calls it.
std::string choose_and_apply_threads(const RunConfig& cfg) {
  ThreadInputs in;
  in.mask = process_cpu_mask();
  const MaskSharers sharers = cpu_mask_sharers(in.mask);
  in.sharers = sharers.sharers;
  in.sharer_index = sharers.index;
  if (cfg.train.threads > 0) {
    in.explicit_threads = static_cast<int>(cfg.train.threads);
    in.explicit_source = fmt::format("train.threads = {}", cfg.train.threads);
  } else if (const int env = omp_num_threads_from_env(); env > 0) {
    in.explicit_threads = env;
    in.explicit_source = fmt::format("OMP_NUM_THREADS = {}", env);
  }
  const ThreadChoice choice = choose_compute_threads(in);
  apply_thread_choice(choice);
  return choice.reason;
}

}  // namespace

int run_train_command(const std::vector<std::string>& args) {
  po::options_description opts(kTrainUsage);
  opts.add_options()("help,h", "print this help and every config key")(
      "config,c", po::value<std::vector<std::string>>()->composing(), "INI config file (repeatable)")(
      "print-config", "print the resolved config as INI and exit")(
      "resume", po::value<std::string>(),
      "continue from a checkpoint: 'auto' = the newest complete one in the run's checkpoint directory (fresh if "
      "none), or a step-N directory / its state.h5")(
      "phases", po::value<std::string>(),
      "run only these phases of the schedule, consecutive: '2,3', '2-3' or '1'; a later phase starts from the "
      "checkpoint the phase before it ended with (or --resume / train.init_from)");
  const SplitArgs split = split_config_overrides(args);
  const po::variables_map vm = parse_options(split.own, opts);
  if (vm.count("help")) {
    std::cout << opts << "\nConfig keys (type, default for a --config file, value in r1-tiny):\n"
              << describe_config_keys();
    return 0;
  }
  const auto files = vm.count("config") ? vm["config"].as<std::vector<std::string>>() : std::vector<std::string>{};
  // Every rank reads the same files and arguments, so a config error is the
  // same everywhere: each rank reports it and exits, none has to be killed.
  // What depends on the world (the data-parallel degree) is checked by
  // train() before its first step, alike on every rank too.
  const LoadedConfig loaded = [&] {
    try {
      return load_run_config_with_origins(files, split.overrides);
    } catch (const UniformError&) {
      throw;
    } catch (const Error& e) {
      throw UniformError(e.what());
    }
  }();
  const RunConfig& cfg = loaded.config;
  const std::string ini = run_config_to_ini(cfg);
  if (vm.count("print-config")) {
    std::cout << ini;
    return 0;
  }
  install_stop_signal_handlers();
  TrainStart start;
  if (vm.count("resume")) start.resume = vm["resume"].as<std::string>();
  if (vm.count("phases")) {
    const auto range =
        parse_phase_range(vm["phases"].as<std::string>(), static_cast<std::int64_t>(schedule_of(cfg).size()));
    start.first_phase = range.first;
    start.last_phase = range.second;
  }
  ParallelOptions popts;
  popts.tp = static_cast<int>(cfg.parallel.tp);
  popts.dp = static_cast<int>(cfg.parallel.dp);
  popts.timeout_s = cfg.parallel.timeout_s;
  const auto ctx = ParallelContext::create(popts);
  if (!ctx->is_root()) {
    // Rank 0 alone talks to the console; the others log to the run directory.
    set_log_prefix(fmt::format("[rank {}] ", ctx->rank()));
    set_log_file(fmt::format("{}/logs/rank{}.log", resolve_run_dir(cfg), ctx->rank()), true);
  }
  log_info("launcher: {}; rank {} of {}: tp rank {} of {}, dp rank {} of {}, local rank {}", ctx->launcher(),
           ctx->rank(), ctx->world_size(), ctx->tp_rank(), ctx->tp_size(), ctx->dp_rank(), ctx->dp_size(),
           ctx->local_rank());
  log_info("compute threads: {}", choose_and_apply_threads(cfg));
  // After the process groups: on CUDA the node-local rank picks the GPU.
  auto backend = make_backend(resolve_device(cfg.runtime.device, "runtime.device"), ctx->local_rank());
  log_info("device: {} (runtime.device = {})", backend->name(), cfg.runtime.device);
  log_info("blas: {}", cpu::blas_kernel_summary());  // the CPU and sim backends GEMM through it
  // Collectives on device tensors go through the device communicators from here on.
  ctx->attach_device(*backend);
  TrainRanks ranks;
  ranks.world_rank = ctx->rank();
  ranks.world_size = ctx->world_size();
  ranks.world = &ctx->world();
  ranks.io = &ctx->io();
  ranks.tp = &ctx->tp();
  ranks.dp = &ctx->dp();
  TrainReport report;
  try {
    report = train(cfg, ini, *backend, ranks, start, loaded.origins);
  } catch (const UniformError&) {
    throw;
  } catch (const std::exception& e) {
    // Take the job down here, while the communicators are alive: unwinding
    // past them would first drain collectives no peer will ever match.
    if (ctx->world_size() > 1) abort_job(std::string("pouch train: error: ") + e.what(), 1);
    throw;
  }
  if (report.already_finished) {
    std::int64_t total_steps = 0;
    for (const auto& phase : schedule_of(cfg)) total_steps += phase.steps;
    if (ctx->is_root())
      std::printf("the run already finished: %s holds step %lld of %lld; nothing to do\n", report.resumed_from.c_str(),
                  static_cast<long long>(report.steps), static_cast<long long>(total_steps));
    return 0;
  }
  if (report.stopped_by_signal != 0) {
    if (ctx->is_root())
      std::printf("stopped by signal %d after step %lld: checkpoint %s; continue with --resume=auto (exit status %d)\n",
                  report.stopped_by_signal, static_cast<long long>(report.steps), report.last_checkpoint.c_str(),
                  kExitStoppedForResume);
    return kExitStoppedForResume;
  }
  if (!ctx->is_root()) return 0;

  std::printf("\ntrained %lld steps in %.1f s: final loss %.4f, %.0f tokens/s, MFU %.1f%%\n",
              static_cast<long long>(report.steps), report.seconds, report.final_loss, report.tokens_per_s,
              100.0 * report.mfu);
  if (!report.evals.empty() && !report.evals.back().levels.empty()) {
    const EvalResult& first = report.evals.front();
    const EvalResult& last = report.evals.back();
    std::printf("held-out exact-answer accuracy by difficulty level (step %lld -> step %lld):\n",
                static_cast<long long>(first.step), static_cast<long long>(last.step));
    for (const auto& l : last.levels) {
      // The first evaluation may lack a level a later phase added (continual: the new one).
      const auto before = std::find_if(first.levels.begin(), first.levels.end(),
                                       [&](const LevelAccuracy& f) { return f.level == l.level; });
      const std::string was =
          before == first.levels.end() ? "    -  " : fmt::format("{:5.1f}%", 100.0 * before->accuracy());
      std::printf("  level %d: %s -> %5.1f%%  (%lld/%lld right, %lld well-formed)\n", l.level, was.c_str(),
                  100.0 * l.accuracy(), static_cast<long long>(l.correct), static_cast<long long>(l.total),
                  static_cast<long long>(l.well_formed));
    }
    std::printf("  overall: %5.1f%% -> %5.1f%%\n", 100.0 * overall_accuracy(first.levels),
                100.0 * overall_accuracy(last.levels));
  }
  if (report.phases.size() > 1) {
    std::printf("phases:\n");
    for (const auto& p : report.phases)
      std::printf("  phase %lld (%s): steps %lld..%lld, %.1f s: %s\n", static_cast<long long>(p.index), p.kind.c_str(),
                  static_cast<long long>(p.first_step + 1), static_cast<long long>(p.last_step), p.seconds,
                  p.summary.c_str());
  }
  std::printf("weights: %s\nmetrics: %s\n", report.weights_path.c_str(), report.metrics_path.c_str());
  return 0;
}

}  // namespace pouch
