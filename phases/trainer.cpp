#include "phases/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/char_tokenizer.h"
#include "model/gpt.h"
#include "parallel/gradient_bucket_reducer.h"
#include "parallel/uniform_error.h"
#include "parallel/watchdog.h"
#include "checkpoint/checkpoint_dir.h"
#include "phases/async_checkpoint_writer.h"
#include "phases/checkpoint_choice.h"
#include "phases/fault_injection.h"
#include "phases/metrics_log.h"
#include "phases/model_file.h"
#include "phases/progress.h"
#include "phases/run_state.h"
#include "phases/training_data.h"
#include "runtime/adamw_optimizer.h"
#include "runtime/cpu/sgemm_peak.h"
#include "runtime/log.h"
#include "runtime/stop_request.h"
#include "runtime/threads.h"

namespace pouch {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Batches of validation loss per eval: enough windows for a stable number,
// few enough that evals stay a small share of a short run.
constexpr std::int64_t kValBatches = 8;

// Rows of this rank: sequences first, first + 1, ... of the run's order.
void fill_batch(const SequenceLoader& source, std::int64_t first_sequence, std::int64_t vocab, const Tensor& x,
                const Tensor& y) {
  const std::int64_t B = x.dim(0), T = x.dim(1);
  for (std::int64_t b = 0; b < B; ++b) source.sequence(first_sequence + b, x.i32() + b * T, y.i32() + b * T);
  const std::int32_t* xs = x.i32();
  const std::int32_t* ys = y.i32();
  for (std::int64_t i = 0; i < B * T; ++i) {
    if (xs[i] < 0 || xs[i] >= vocab || ys[i] < 0 || ys[i] >= vocab)
      fail("{}: token id {} is outside the model's vocabulary [0, {}); set [model] vocab_size to at least the "
           "tokenizer's vocabulary",
           source.source().name(), xs[i] < 0 || xs[i] >= vocab ? xs[i] : ys[i], vocab);
  }
}

// Sums `values` over the data-parallel group in place (doubles).
void sum_over_dp(const TrainRanks& ranks, Backend& be, std::vector<double>& values) {
  if (ranks.dp_size() == 1) return;
  Tensor t = be.empty({static_cast<std::int64_t>(values.size())}, DType::F64);
  std::copy(values.begin(), values.end(), t.data<double>());
  ranks.dp->all_reduce(t, ReduceOp::Sum);
  std::copy(t.data<double>(), t.data<double>() + values.size(), values.begin());
}

EvalResult evaluate(GPT& model, const TrainingData& data, const RunConfig& cfg, const TrainRanks& ranks,
                    std::int64_t step, const Tensor& x, const Tensor& y) {
  Backend& be = model.backend();
  EvalResult r;
  r.step = step;
  if (data.val) {
    // The same global validation batches whatever the layout, split over dp like training.
    const std::int64_t B_local = x.dim(0), B = B_local * ranks.dp_size();
    const std::int64_t batches = std::max<std::int64_t>(1, std::min(kValBatches, data.val->num_windows() / B));
    std::vector<double> sums = {0.0, 0.0};
    for (std::int64_t i = 0; i < batches; ++i) {
      fill_batch(*data.val, i * B + ranks.dp_rank() * B_local, cfg.model.vocab_size, x, y);
      model.forward(x, y);
      sums[0] += model.last_loss_sum();
      sums[1] += static_cast<double>(model.last_loss_count());
    }
    sum_over_dp(ranks, be, sums);
    r.val_loss = sums[1] > 0 ? sums[0] / sums[1] : 0.0;
  }
  if (data.task_tokenizer) {
    r.levels = evaluate_task_accuracy(model, *data.task_tokenizer, static_cast<int>(cfg.data.task_max_level),
                                      cfg.data.task_eval_per_level, cfg.train.seed, ranks.dp_rank(),
                                      ranks.dp_size());
    std::vector<double> counts;
    for (const auto& l : r.levels) counts.insert(counts.end(), {double(l.total), double(l.correct), double(l.well_formed)});
    sum_over_dp(ranks, be, counts);
    for (std::size_t i = 0; i < r.levels.size(); ++i) {
      r.levels[i].total = static_cast<std::int64_t>(counts[3 * i]);
      r.levels[i].correct = static_cast<std::int64_t>(counts[3 * i + 1]);
      r.levels[i].well_formed = static_cast<std::int64_t>(counts[3 * i + 2]);
    }
  }
  return r;
}

std::string format_eval(const EvalResult& e) {
  std::string s = fmt::format("eval step {}", e.step);
  if (!std::isnan(e.val_loss)) s += fmt::format(" | val_loss {:.4f}", e.val_loss);
  if (!e.levels.empty()) {
    s += " | accuracy";
    for (const auto& l : e.levels) s += fmt::format(" L{} {:.0f}%", l.level, 100.0 * l.accuracy());
    s += fmt::format(" | overall {:.1f}%", 100.0 * overall_accuracy(e.levels));
  }
  return s;
}

void add_eval_fields(nlohmann::json& j, const EvalResult& e) {
  if (!std::isnan(e.val_loss)) j["val_loss"] = e.val_loss;
  if (e.levels.empty()) return;
  j["eval_accuracy"] = overall_accuracy(e.levels);
  for (const auto& l : e.levels) {
    j[fmt::format("eval_accuracy_l{}", l.level)] = l.accuracy();
    j[fmt::format("eval_well_formed_l{}", l.level)] =
        l.total > 0 ? static_cast<double>(l.well_formed) / static_cast<double>(l.total) : 0.0;
  }
}

void write_text_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) fail("cannot write {}; check that the run directory is writable", path.string());
}

// Keeps the metrics of steps up to `step` (a resumed run redoes the rest).
void truncate_metrics(const std::string& path, std::int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.contains("step") && j["step"].get<std::int64_t>() <= step) kept += line + "\n";
  }
  in.close();
  std::ofstream out(path, std::ios::trunc);
  out << kept;
}

CheckpointGroup checkpoint_group(const TrainRanks& ranks) {
  CheckpointGroup g;
  g.rank = ranks.world_rank;
  g.size = ranks.world_size;
  g.tp_rank = ranks.tp ? ranks.tp->rank() : 0;
  g.tp_size = ranks.tp_size();
  g.dp_rank = ranks.dp_rank();
  g.dp_size = ranks.dp_size();
  // Checkpoints are written on a background thread: over the io
  // communicator, whose collectives cannot interleave with the training's.
  g.world = ranks.io ? ranks.io : ranks.world;
  return g;
}

// The same decision on every rank: whether any rank has been asked to stop.
int agreed_stop_signal(const TrainRanks& ranks, Backend& be) {
  const int mine = stop_requested();
  if (ranks.world_size == 1 || ranks.world == nullptr) return mine;
  Tensor t = be.empty({1}, DType::I32);
  t.i32()[0] = mine;
  ranks.world->all_reduce(t, ReduceOp::Max);
  return t.i32()[0];
}

void print_line(const TrainRanks& ranks, const std::string& line) {
  if (!ranks.main()) return;
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace

std::string resolve_run_dir(const RunConfig& cfg) {
  return cfg.train.run_dir.empty() ? (fs::path("runs") / cfg.train.name).string() : cfg.train.run_dir;
}

std::string resolve_checkpoint_dir(const RunConfig& cfg) {
  return cfg.checkpoint.dir.empty() ? (fs::path(resolve_run_dir(cfg)) / "checkpoints").string() : cfg.checkpoint.dir;
}

TrainReport train(const RunConfig& cfg, const std::string& config_ini, Backend& be, const TrainRanks& ranks,
                  const TrainStart& start) {
  const auto t_start = Clock::now();
  TrainReport report;
  report.run_dir = resolve_run_dir(cfg);
  std::error_code ec;
  fs::create_directories(report.run_dir, ec);
  if (ec) fail("cannot create the run directory {}: {}; set [train] run_dir", report.run_dir, ec.message());
  if (ranks.main()) write_text_file(fs::path(report.run_dir) / "config.ini", config_ini);
  report.metrics_path = cfg.log.metrics.empty() ? (fs::path(report.run_dir) / "metrics.jsonl").string()
                                                : cfg.log.metrics;
  report.weights_path = (fs::path(report.run_dir) / "model.h5").string();

  const std::int64_t B = cfg.train.batch_size, T = cfg.model.seq_len, A = cfg.train.grad_accum;
  const int dp = ranks.dp_size();
  if (B % dp != 0)
    fail_uniform("train.batch_size = {} is not divisible by the data-parallel degree {}: each of the {} data-parallel ranks "
         "takes an equal share of the global batch; choose a multiple of {}",
         B, dp, dp, dp);
  const std::int64_t B_local = B / dp;

  set_compute_threads(static_cast<int>(cfg.train.threads));
  TrainingData data = open_training_data(cfg.data, T, cfg.train.seed);
  if (data.tokenizer && data.tokenizer->vocab_size() > cfg.model.vocab_size)
    fail("[model] vocab_size = {} is smaller than the tokenizer's vocabulary ({}) of {}; set model.vocab_size={}",
         cfg.model.vocab_size, data.tokenizer->vocab_size(), data.train->source().name(), data.tokenizer->vocab_size());

  GPT model(cfg.model, be, TensorParallelGroup(ranks.tp));
  model.set_recompute(cfg.train.recompute);
  if (cfg.train.init_from.empty())
    model.init_weights(cfg.train.seed);
  else
    load_weights_into(model, cfg.train.init_from);
  AdamWOptimizer optimizer(model.parameters(), cfg.optim, be);
  std::unique_ptr<GradientBucketReducer> reducer;
  if (dp > 1) {
    reducer = std::make_unique<GradientBucketReducer>(
        model.parameters(), *ranks.dp,
        GradientBucketReducer::Options{static_cast<std::int64_t>(cfg.parallel.bucket_mb * (1 << 20)),
                                       cfg.parallel.overlap});
    model.set_grad_ready_hook([&](const Parameter& p) { reducer->mark_ready(p); });
  }

  const double peak_gflops =
      cfg.log.peak_gflops > 0.0 ? cfg.log.peak_gflops : cpu::measure_sgemm_gflops(512, 0.2);
  const std::int64_t steps = cfg.train.steps, tokens_per_step = B * T * A;
  const double flops_per_token = model.train_flops_per_token(T);
  log_info("model: {} layers, d_model {}, {} heads, context {}, vocab {}: {:.2f}M parameters", cfg.model.layers,
           cfg.model.d_model, cfg.model.heads, T, cfg.model.vocab_size,
           static_cast<double>(model.parameters().full_numel()) / 1e6);
  log_info("data: {}", data.train->source().name());
  log_info("{} steps of {} tokens ({} x {} x {} accumulation), {} ranks (tp {} x dp {}), {} threads each, "
           "sgemm peak {:.1f} GFLOP/s{}",
           steps, tokens_per_step, B, T, A, ranks.world_size, ranks.tp_size(), dp, compute_threads(), peak_gflops,
           cfg.log.peak_gflops > 0 ? " (config)" : "");
  if (reducer)
    log_info("data-parallel gradient all-reduce: {} buckets of up to {} MiB, overlap {}", reducer->num_buckets(),
             cfg.parallel.bucket_mb, cfg.parallel.overlap ? "on" : "off");
  log_info("run directory {}", report.run_dir);

  // Resume: every rank reads its own shards of the same checkpoint.
  const std::string ckpt_dir = resolve_checkpoint_dir(cfg);
  std::int64_t first_step = 0;
  if (!start.resume.empty()) {
    std::string file;
    bool verified = false;
    if (start.resume == "auto") {
      // Rank 0 picks (verifying candidates in a child process) and tells the others.
      std::int64_t step = -1;
      if (ranks.main())
        if (auto found = newest_verified_checkpoint(ckpt_dir)) step = found->step;
      if (ranks.world_size > 1 && ranks.world) {
        Tensor t = be.empty({1}, DType::F64);
        t.data<double>()[0] = static_cast<double>(step);
        ranks.world->broadcast(t, 0);
        step = static_cast<std::int64_t>(t.data<double>()[0]);
      }
      if (step >= 0) {
        file = (fs::path(ckpt_dir) / step_dir_name(step) / "state.h5").string();
        verified = true;
      } else {
        log_info("--resume=auto: no complete checkpoint in {}; starting fresh", ckpt_dir);
      }
    } else {
      file = fs::is_directory(start.resume) ? (fs::path(start.resume) / "state.h5").string() : start.resume;
      if (!fs::exists(file))
        fail("--resume={}: no checkpoint there (expected a step-N directory or its state.h5); use --resume=auto "
             "to pick the newest in {}",
             start.resume, ckpt_dir);
    }
    if (!file.empty()) {
      // One rank checking the checksums is enough: a corrupt file fails the job.
      const RunPosition pos =
          restore_run_state(file, model, optimizer, ranks.world_rank, !verified && ranks.world_rank == 0);
      first_step = pos.step;
      report.resumed_from = file;
      report.resumed_from_step = pos.step;
      report.last_checkpoint = file;
      log_info("resumed from {} at step {}", file, pos.step);
      if (first_step >= steps) {
        report.already_finished = true;
        report.steps = first_step;
        return report;
      }
    }
  }
  const std::string tokenizer_json = data.tokenizer ? data.tokenizer->serialize() : std::string();
  const RetentionPolicy retention{static_cast<int>(cfg.checkpoint.keep_last), cfg.checkpoint.keep_every};
  const CheckpointGroup group = checkpoint_group(ranks);
  AsyncCheckpointWriter writer(ckpt_dir, group, retention);
  // Returns the training stall. Periodic checkpoints are written in the
  // background; the last one and the one a signal asks for are written now.
  auto save = [&](std::int64_t done_steps, int stop_signal, bool last_step) {
    const auto t0 = Clock::now();
    const RunPosition pos{done_steps, done_steps * tokens_per_step, done_steps * cfg.train.grad_accum * B};
    const CheckpointState state = capture_run_state(model, optimizer, pos, ranks.tp_size(), ranks.dp_size(),
                                                    config_ini, tokenizer_json);
    if (stop_signal != 0) {
      writer.wait();
      // The checkpoint a signal asks for has its own deadline: a peer may be
      // gone. Publishing is atomic, so giving up leaves the previous one whole.
      const std::string previous = writer.last_published().empty() ? report.last_checkpoint : writer.last_published();
      DeadlineGuard guard(fmt::format("the checkpoint of step {} that signal {} asked for", done_steps, stop_signal),
                          cfg.checkpoint.signal_timeout_s, "checkpoint.signal_timeout_s",
                          fmt::format("it was not published; the previous checkpoint ({}) is intact",
                                      previous.empty() ? "none" : previous));
      writer.write_now(state);
    } else if (last_step) {
      writer.write_now(state);
    } else {
      writer.submit(state);
    }
    report.checkpoint_stall_s.push_back(seconds_since(t0));
    log_info("checkpoint of step {}: training held up {:.3f} s{}", done_steps, report.checkpoint_stall_s.back(),
             stop_signal == 0 && !last_step ? " (writing in the background)" : "");
  };

  MetricsLog metrics;
  if (ranks.main()) {
    if (first_step > 0) truncate_metrics(report.metrics_path, first_step);
    metrics = MetricsLog(report.metrics_path, first_step > 0);
  }
  const Tensor x = be.empty({B_local, T}, DType::I32), y = be.empty({B_local, T}, DType::I32);
  const bool eval_on = cfg.train.eval_every > 0;
  if (eval_on && first_step == 0) {
    report.evals.push_back(evaluate(model, data, cfg, ranks, 0, x, y));
    print_line(ranks, format_eval(report.evals.back()));
  }

  // Peak FLOP/s of the whole job: every rank's cores.
  const double job_peak = peak_gflops * 1e9 * ranks.world_size;
  double train_seconds = 0.0, avg_step = 0.0;
  const float dloss = 1.0f / static_cast<float>(B * T * A);
  const auto fault = fault_plan_from_env();
  for (std::int64_t step = first_step; step < steps; ++step) {
    maybe_inject_fault(fault, ranks.world_rank, step + 1);
    const auto t0 = Clock::now();
    const float lr = lr_at(cfg.optim, step, steps);
    model.parameters().zero_grad();
    std::vector<double> loss = {0.0, 0.0};  // sum and count of this rank's target losses
    for (std::int64_t micro = 0; micro < A; ++micro) {
      // With accumulation only the last micro-batch's backward reduces.
      if (reducer && micro == A - 1) reducer->begin();
      fill_batch(*data.train, (step * A + micro) * B + ranks.dp_rank() * B_local, cfg.model.vocab_size, x, y);
      model.forward(x, y, dloss);
      model.backward();
      loss[0] += model.last_loss_sum();
      loss[1] += static_cast<double>(model.last_loss_count());
    }
    if (reducer) reducer->finish();
    sum_over_dp(ranks, be, loss);
    const double mean_loss = loss[1] > 0 ? loss[0] / loss[1] : 0.0;
    if (!std::isfinite(mean_loss))
      fail("training diverged at step {}: the loss is {}; lower [optim] lr or set [optim] grad_clip", step + 1,
           mean_loss);
    const OptimizerStepStats stats = optimizer.step(lr, model.grad_norm());
    const double dt = seconds_since(t0);
    train_seconds += dt;
    avg_step = step == first_step ? dt : 0.9 * avg_step + 0.1 * dt;

    const double tok_s = static_cast<double>(tokens_per_step) / dt;
    const double mfu = flops_per_token * tok_s / job_peak;
    nlohmann::json line = {{"step", step + 1},  {"loss", mean_loss},        {"lr", lr},
                           {"grad_norm", stats.grad_norm}, {"tokens_per_s", tok_s}, {"mfu", mfu},
                           {"elapsed_s", seconds_since(t_start)}};
    if (reducer) line["comm_wait_s"] = reducer->last_wait_seconds();
    const bool last = step + 1 == steps;
    if (eval_on && ((step + 1) % cfg.train.eval_every == 0 || last)) {
      report.evals.push_back(evaluate(model, data, cfg, ranks, step + 1, x, y));
      add_eval_fields(line, report.evals.back());
    }
    report.final_loss = mean_loss;
    report.steps = step + 1;
    // A checkpoint at the end of this step: periodic, the last one, or asked
    // for by a signal (every rank decides alike).
    const int stop_signal = agreed_stop_signal(ranks, be);
    const bool every = cfg.checkpoint.every_steps > 0 && (step + 1) % cfg.checkpoint.every_steps == 0;
    if (stop_signal != 0 || every || last) {
      save(step + 1, stop_signal, last);
      line["checkpoint_s"] = report.checkpoint_stall_s.back();
    }
    if (ranks.main()) metrics.write(line);
    if ((step + 1) % cfg.log.every == 0 || last || step == 0) {
      ProgressInfo p{step + 1, steps, mean_loss, lr, tok_s, mfu, avg_step * static_cast<double>(steps - step - 1)};
      print_line(ranks, format_progress(p));
    }
    if (line.contains("val_loss") || line.contains("eval_accuracy")) print_line(ranks, format_eval(report.evals.back()));
    if (stop_signal != 0 && !last) {
      report.stopped_by_signal = stop_signal;
      break;
    }
  }

  writer.wait();
  if (!writer.last_published().empty()) report.last_checkpoint = writer.last_published();
  if (report.stopped_by_signal == 0) {
    // Every rank of a tensor-parallel group takes part in gathering the full tensors.
    const auto full = model.named_values();
    if (ranks.main()) save_weights_file(report.weights_path, model.config(), full, data.tokenizer.get(), config_ini);
  }
  report.seconds = seconds_since(t_start);
  report.tokens_per_s =
      train_seconds > 0 ? static_cast<double>(tokens_per_step * (report.steps - first_step)) / train_seconds : 0.0;
  report.mfu = flops_per_token * report.tokens_per_s / job_peak;
  return report;
}

}  // namespace pouch
