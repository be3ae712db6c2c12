#include "phases/schedule/schedule_runner.h"

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint_dir.h"
#include "model/gpt.h"
#include "parallel/uniform_error.h"
#include "phases/common/model_file.h"
#include "phases/common/run_services.h"
#include "phases/common/training_data.h"
#include "phases/schedule/checkpoint_choice.h"
#include "phases/schedule/phase.h"
#include "phases/schedule/phase_validation.h"
#include "phases/schedule/run_state.h"
#include "phases/schedule/world_agreement.h"
#include "runtime/cpu/sgemm_peak.h"
#include "runtime/log.h"
#include "runtime/peak_meter.h"
#include "runtime/stopwatch.h"
#include "runtime/threads.h"

namespace pouch {

namespace fs = std::filesystem;

namespace {

void write_text_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) fail("cannot write {}; check that the run directory is writable", path.string());
}

// Where a run starts: a checkpoint (its global step and phase) or nothing.
struct StartPoint {
  std::string file;        // empty: fresh
  bool verified = false;   // checksums already checked (in a child process)
  std::int64_t step = 0;   // global steps done
  std::int64_t phase = 0;  // the phase it was written in
};

StartPoint find_start(const RunConfig& cfg, const TrainStart& start, const TrainRanks& ranks, Backend& be,
                      std::int64_t first_phase_offset, std::int64_t first_phase) {
  const std::string ckpt_dir = resolve_checkpoint_dir(cfg);
  StartPoint sp;
  if (start.resume == "auto") {
    // Rank 0 picks (verifying candidates in a child process) and tells the others.
    std::int64_t step = -1;
    if (ranks.main())
      if (auto found = newest_verified_checkpoint(ckpt_dir)) step = found->step;
    step = static_cast<std::int64_t>(broadcast_from_rank0(ranks, be, static_cast<double>(step)));
    if (step >= 0) {
      sp.file = (fs::path(ckpt_dir) / step_dir_name(step) / "state.h5").string();
      sp.verified = true;
    } else if (first_phase > 1) {
      fail_uniform(
          "--resume=auto: no complete checkpoint in {}, and phase {} needs the model phase {} left: run "
          "the earlier phases first, or give --resume=<checkpoint>",
          ckpt_dir, first_phase, first_phase - 1);
    } else {
      log_info("--resume=auto: no complete checkpoint in {}; starting fresh", ckpt_dir);
    }
  } else if (!start.resume.empty()) {
    sp.file = fs::is_directory(start.resume) ? (fs::path(start.resume) / "state.h5").string() : start.resume;
    if (!fs::exists(sp.file))
      fail_uniform(
          "--resume={}: no checkpoint there (expected a step-N directory or its state.h5); use "
          "--resume=auto to pick the newest in {}",
          start.resume, ckpt_dir);
  } else if (first_phase > 1) {
    // The boundary checkpoint the earlier phases left.
    sp.file = (fs::path(ckpt_dir) / step_dir_name(first_phase_offset) / "state.h5").string();
    if (!fs::exists(sp.file)) {
      if (!cfg.train.init_from.empty()) return {};
      fail_uniform(
          "--phases starts at phase {}, which continues from the end of phase {} (global step {}), but {} "
          "does not exist: run phase {} first, give --resume=<checkpoint>, or set train.init_from",
          first_phase, first_phase - 1, first_phase_offset, sp.file, first_phase - 1);
    }
  }
  if (!sp.file.empty()) {
    const CheckpointState meta = read_checkpoint_rows(sp.file, ranks.world_rank);
    sp.step = meta.meta.step;
    sp.phase = checkpoint_phase_index(meta);
  }
  return sp;
}

}  // namespace

std::pair<std::int64_t, std::int64_t> parse_phase_range(const std::string& text, std::int64_t num_phases) {
  auto number = [&](std::string_view part) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || v < 1 || v > num_phases)
      fail_uniform(
          "--phases={}: '{}' is not a phase of this run (it has phases 1..{}); write e.g. --phases=2,3 or "
          "--phases=2-3",
          text, part, num_phases);
    return v;
  };
  std::vector<std::int64_t> list;
  std::string_view rest = text;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    const auto dash = item.find('-');
    if (dash == std::string_view::npos) {
      list.push_back(number(item));
    } else {
      const std::int64_t a = number(item.substr(0, dash)), b = number(item.substr(dash + 1));
      for (std::int64_t k = a; k <= b; ++k) list.push_back(k);
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  for (std::size_t i = 1; i < list.size(); ++i)
    if (list[i] != list[i - 1] + 1)
      fail_uniform(
          "--phases={}: phases run in order and each continues from the one before, so the list must be "
          "consecutive (e.g. 2,3)",
          text);
  return {list.front(), list.back()};
}

std::vector<PhaseConfig> schedule_of(const RunConfig& cfg) {
  if (!cfg.phases.empty()) return cfg.phases;
  PhaseConfig only;
  only.index = 1;
  only.kind = PhaseKind::Pretrain;
  only.steps = cfg.train.steps;
  return {only};
}

std::string resolve_run_dir(const RunConfig& cfg) {
  return cfg.train.run_dir.empty() ? (fs::path("runs") / cfg.train.name).string() : cfg.train.run_dir;
}

std::string resolve_checkpoint_dir(const RunConfig& cfg) {
  return cfg.checkpoint.dir.empty() ? (fs::path(resolve_run_dir(cfg)) / "checkpoints").string() : cfg.checkpoint.dir;
}

TrainReport train(const RunConfig& cfg, const std::string& config_ini, Backend& be, const TrainRanks& ranks,
                  const TrainStart& start, const ConfigOrigins& origins) {
  const auto t_start = Clock::now();
  const std::vector<PhaseConfig> schedule = schedule_of(cfg);
  const std::int64_t num_phases = static_cast<std::int64_t>(schedule.size());
  const std::int64_t first_phase = start.first_phase > 0 ? start.first_phase : 1;
  const std::int64_t last_phase = start.last_phase > 0 ? start.last_phase : num_phases;
  POUCH_CHECK(first_phase <= last_phase && last_phase <= num_phases, "phase range {}..{} of {}", first_phase,
              last_phase, num_phases);
  // Every rule of every phase, with this world's layout, before anything is
  // written or computed: a bad phase 3 fails now, not after phases 1 and 2.
  validate_schedule(cfg, origins, {ranks.dp_size(), first_phase, last_phase});

  TrainReport report;
  report.run_dir = resolve_run_dir(cfg);
  std::error_code ec;
  fs::create_directories(report.run_dir, ec);
  if (ec) fail("cannot create the run directory {}: {}; set [train] run_dir", report.run_dir, ec.message());
  if (ranks.main()) write_text_file(fs::path(report.run_dir) / "config.ini", config_ini);
  report.metrics_path =
      cfg.log.metrics.empty() ? (fs::path(report.run_dir) / "metrics.jsonl").string() : cfg.log.metrics;
  report.weights_path = (fs::path(report.run_dir) / "model.h5").string();

  std::vector<std::int64_t> offset(schedule.size() + 1, 0);  // offset[k-1]: global steps before phase k
  for (std::size_t i = 0; i < schedule.size(); ++i) offset[i + 1] = offset[i] + schedule[i].steps;
  const std::int64_t end_step = offset[static_cast<std::size_t>(last_phase)];

  set_compute_threads(static_cast<int>(cfg.train.threads));
  TrainingData data = open_training_data(cfg.data, cfg.model.seq_len, cfg.train.seed);
  // Token shards' tokenizer is known only once read (the built-in task's was checked above).
  if (data.tokenizer && data.tokenizer->vocab_size() > cfg.model.vocab_size)
    fail("[model] vocab_size = {} is smaller than the tokenizer's vocabulary ({}) of {}; set model.vocab_size={}",
         cfg.model.vocab_size, data.tokenizer->vocab_size(), data.train->source().name(), data.tokenizer->vocab_size());

  GPT model(cfg.model, be, TensorParallelGroup(ranks.tp));
  if (cfg.train.init_from.empty())
    model.init_weights(cfg.train.seed);
  else
    load_weights_into(model, cfg.train.init_from);

  const bool configured_peak = cfg.log.peak_gflops > 0.0;
  const double peak_gflops = configured_peak ? cfg.log.peak_gflops : cpu::measure_sgemm_peak_gflops();
  const double ranks_flops = 1e9 * ranks.world_size;
  std::function<double()> remeasure;
  if (!configured_peak) remeasure = [ranks_flops] { return cpu::measure_sgemm_peak_gflops() * ranks_flops; };
  PeakMeter peak(peak_gflops * ranks_flops, std::move(remeasure));
  log_info("model: {} layers, d_model {}, {} heads, context {}, vocab {}: {:.2f}M parameters", cfg.model.layers,
           cfg.model.d_model, cfg.model.heads, cfg.model.seq_len, cfg.model.vocab_size,
           static_cast<double>(model.parameters().full_numel()) / 1e6);
  log_info("data: {}", data.train->source().name());
  std::string plan;
  for (const auto& p : schedule) plan += fmt::format("{}{} {} steps", plan.empty() ? "" : ", ", p.name(), p.steps);
  log_info("schedule: {}; {} ranks (tp {} x dp {}), {} threads each, sgemm peak {:.1f} GFLOP/s{}", plan,
           ranks.world_size, ranks.tp_size(), ranks.dp_size(), compute_threads(), peak_gflops,
           cfg.log.peak_gflops > 0 ? " (config)" : "");
  log_info("run directory {}", report.run_dir);

  // Where to start: a checkpoint (inside a phase, or at a phase boundary) or fresh.
  const StartPoint sp =
      find_start(cfg, start, ranks, be, offset[static_cast<std::size_t>(first_phase - 1)], first_phase);
  std::int64_t phase_k = first_phase;  // the phase to run first
  std::int64_t resume_inside = -1;     // in-phase step to resume at, or -1: the phase starts fresh
  if (!sp.file.empty()) {
    report.resumed_from = sp.file;
    report.resumed_from_step = sp.step;
    report.last_checkpoint = sp.file;
    if (sp.step >= end_step) {
      log_info("resumed from {} at step {}", sp.file, sp.step);
      report.already_finished = true;
      report.steps = sp.step;
      return report;
    }
    std::int64_t k = 1;
    while (offset[static_cast<std::size_t>(k)] <= sp.step) ++k;  // the phase global step sp.step + 1 is in
    if (k < first_phase)
      fail_uniform(
          "{} holds global step {}, inside phase {}, before the phases asked for (--phases starts at {}): "
          "finish phase {} first (--phases={}) or resume from a later checkpoint",
          sp.file, sp.step, k, first_phase, k, k);
    phase_k = k;
    if (sp.step > offset[static_cast<std::size_t>(k - 1)]) {
      if (sp.phase != k)
        fail_uniform(
            "{}: /meta says phase {}, but its step {} lies inside phase {} of this config: the checkpoint "
            "belongs to a run with another schedule",
            sp.file, sp.phase, sp.step, k);
      resume_inside = sp.step - offset[static_cast<std::size_t>(k - 1)];
    } else {
      // A phase boundary: the next phase starts from the weights the one
      // before it ended with.
      if (k > 1 && sp.phase != k - 1)
        fail_uniform(
            "{}: /meta says phase {}, but it holds global step {}, the end of phase {} of this config: the "
            "checkpoint belongs to a run with another schedule",
            sp.file, sp.phase, sp.step, k - 1);
      restore_model_weights(sp.file, model, ranks.world_rank, !sp.verified && ranks.world_rank == 0);
    }
    log_info("resumed from {} at step {} ({}{})", sp.file, sp.step, schedule[static_cast<std::size_t>(k - 1)].name(),
             resume_inside >= 0 ? fmt::format(", its step {}", resume_inside) : std::string(", from its start"));
  }

  RunServices services(cfg, ranks, be, resolve_checkpoint_dir(cfg), report.metrics_path, sp.step,
                       std::vector<std::int64_t>(offset.begin() + 1, offset.end()));
  double train_seconds = 0.0, tokens = 0.0, flops = 0.0;
  for (std::int64_t k = phase_k; k <= last_phase; ++k) {
    const PhaseConfig& pc = schedule[static_cast<std::size_t>(k - 1)];
    PhaseContext ctx{cfg, pc, config_ini, be, ranks, model, data, services, 0, 0, nullptr, {}, nullptr};
    ctx.step_offset = offset[static_cast<std::size_t>(k - 1)];
    ctx.total_steps = end_step;
    ctx.peak = &peak;
    ctx.tokenizer_json = data.tokenizer ? data.tokenizer->serialize() : std::string();
    ctx.evals = &report.evals;
    const auto t_phase = Clock::now();
    services.print(fmt::format("== {}: steps {}..{} of {} ==", pc.name(), ctx.step_offset + 1,
                               ctx.step_offset + pc.steps, end_step));
    std::unique_ptr<Phase> phase = make_phase(ctx);
    std::int64_t first = 0;
    if (k == phase_k && resume_inside >= 0) {
      phase->restore(sp.file, !sp.verified && ranks.world_rank == 0);
      first = resume_inside;
    }
    const PhaseOutcome out = phase->run(first);
    train_seconds += out.train_seconds;
    tokens += out.tokens;
    flops += out.flops;
    report.final_loss = out.final_loss;
    report.steps = ctx.step_offset + out.steps_done;
    report.phases.push_back({pc.index, std::string(phase_kind_name(pc.kind)), ctx.step_offset + first,
                             ctx.step_offset + out.steps_done, out.final_loss, seconds_since(t_phase), out.summary});
    if (out.stopped_by_signal != 0 || (services.stop_signal() != 0 && k < last_phase)) {
      report.stopped_by_signal = out.stopped_by_signal != 0 ? out.stopped_by_signal : services.stop_signal();
      break;
    }
  }

  services.wait();
  report.checkpoint_stall_s = services.checkpoint_stalls();
  if (!services.last_checkpoint().empty()) report.last_checkpoint = services.last_checkpoint();
  if (report.stopped_by_signal == 0) {
    // Every rank of a tensor-parallel group takes part in gathering the full tensors.
    const auto full = model.on_host(model.named_values());
    if (ranks.main()) save_weights_file(report.weights_path, model.config(), full, data.tokenizer.get(), config_ini);
  }
  report.seconds = seconds_since(t_start);
  report.tokens_per_s = train_seconds > 0 ? tokens / train_seconds : 0.0;
  report.mfu = peak.utilisation(flops, train_seconds);
  return report;
}

}  // namespace pouch
