#include "phases/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/char_tokenizer.h"
#include "model/gpt.h"
#include "phases/metrics_log.h"
#include "phases/model_file.h"
#include "phases/progress.h"
#include "phases/training_data.h"
#include "runtime/adamw_optimizer.h"
#include "runtime/cpu/sgemm_peak.h"
#include "runtime/log.h"
#include "runtime/threads.h"

namespace pouch {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Batches of validation loss per eval: enough windows for a stable number,
// few enough that evals stay a small share of a short run.
constexpr std::int64_t kValBatches = 8;

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

EvalResult evaluate(GPT& model, const TrainingData& data, const RunConfig& cfg, std::int64_t step, const Tensor& x,
                    const Tensor& y) {
  EvalResult r;
  r.step = step;
  if (data.val) {
    const std::int64_t B = x.dim(0);
    const std::int64_t batches = std::max<std::int64_t>(1, std::min(kValBatches, data.val->num_windows() / B));
    double sum = 0.0;
    for (std::int64_t i = 0; i < batches; ++i) {
      fill_batch(*data.val, i * B, cfg.model.vocab_size, x, y);
      sum += model.forward(x, y);
    }
    r.val_loss = sum / static_cast<double>(batches);
  }
  if (data.task_tokenizer)
    r.levels = evaluate_task_accuracy(model, *data.task_tokenizer, static_cast<int>(cfg.data.task_max_level),
                                      cfg.data.task_eval_per_level, cfg.train.seed);
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

}  // namespace

std::string resolve_run_dir(const RunConfig& cfg) {
  return cfg.train.run_dir.empty() ? (fs::path("runs") / cfg.train.name).string() : cfg.train.run_dir;
}

TrainReport train(const RunConfig& cfg, const std::string& config_ini, Backend& be) {
  const auto t_start = Clock::now();
  TrainReport report;
  report.run_dir = resolve_run_dir(cfg);
  std::error_code ec;
  fs::create_directories(report.run_dir, ec);
  if (ec) fail("cannot create the run directory {}: {}; set [train] run_dir", report.run_dir, ec.message());
  write_text_file(fs::path(report.run_dir) / "config.ini", config_ini);
  report.metrics_path = cfg.log.metrics.empty() ? (fs::path(report.run_dir) / "metrics.jsonl").string()
                                                : cfg.log.metrics;
  report.weights_path = (fs::path(report.run_dir) / "model.h5").string();

  set_compute_threads(static_cast<int>(cfg.train.threads));
  TrainingData data = open_training_data(cfg.data, cfg.model.seq_len, cfg.train.seed);
  if (data.tokenizer && data.tokenizer->vocab_size() > cfg.model.vocab_size)
    fail("[model] vocab_size = {} is smaller than the tokenizer's vocabulary ({}) of {}; set model.vocab_size={}",
         cfg.model.vocab_size, data.tokenizer->vocab_size(), data.train->source().name(), data.tokenizer->vocab_size());

  GPT model(cfg.model, be);
  model.set_recompute(cfg.train.recompute);
  if (cfg.train.init_from.empty())
    model.init_weights(cfg.train.seed);
  else
    load_weights_into(model, cfg.train.init_from);
  AdamWOptimizer optimizer(model.parameters(), cfg.optim, be);

  const double peak_gflops =
      cfg.log.peak_gflops > 0.0 ? cfg.log.peak_gflops : cpu::measure_sgemm_gflops(512, 0.2);
  const std::int64_t B = cfg.train.batch_size, T = cfg.model.seq_len, A = cfg.train.grad_accum;
  const std::int64_t steps = cfg.train.steps, tokens_per_step = B * T * A;
  const double flops_per_token = model.train_flops_per_token(T);
  log_info("model: {} layers, d_model {}, {} heads, context {}, vocab {}: {:.2f}M parameters", cfg.model.layers,
           cfg.model.d_model, cfg.model.heads, T, cfg.model.vocab_size,
           static_cast<double>(model.parameters().numel()) / 1e6);
  log_info("data: {}", data.train->source().name());
  log_info("{} steps of {} tokens ({} x {} x {} accumulation), {} threads, sgemm peak {:.1f} GFLOP/s{}", steps,
           tokens_per_step, B, T, A, compute_threads(), peak_gflops, cfg.log.peak_gflops > 0 ? " (config)" : "");
  log_info("run directory {}", report.run_dir);

  MetricsLog metrics(report.metrics_path, false);
  const Tensor x = be.empty({B, T}, DType::I32), y = be.empty({B, T}, DType::I32);
  const bool eval_on = cfg.train.eval_every > 0;
  if (eval_on) {
    report.evals.push_back(evaluate(model, data, cfg, 0, x, y));
    std::printf("%s\n", format_eval(report.evals.back()).c_str());
    std::fflush(stdout);
  }

  double train_seconds = 0.0, avg_step = 0.0;
  for (std::int64_t step = 0; step < steps; ++step) {
    const auto t0 = Clock::now();
    const float lr = lr_at(cfg.optim, step, steps);
    model.parameters().zero_grad();
    double loss = 0.0;
    const float dloss = 1.0f / static_cast<float>(B * T * A);
    for (std::int64_t micro = 0; micro < A; ++micro) {
      fill_batch(*data.train, (step * A + micro) * B, cfg.model.vocab_size, x, y);
      loss += model.forward(x, y, dloss);
      model.backward();
    }
    loss /= static_cast<double>(A);
    if (!std::isfinite(loss))
      fail("training diverged at step {}: the loss is {}; lower [optim] lr or set [optim] grad_clip", step + 1, loss);
    const OptimizerStepStats stats = optimizer.step(lr);
    const double dt = seconds_since(t0);
    train_seconds += dt;
    avg_step = step == 0 ? dt : 0.9 * avg_step + 0.1 * dt;

    const double tok_s = static_cast<double>(tokens_per_step) / dt;
    const double mfu = flops_per_token * tok_s / (peak_gflops * 1e9);
    nlohmann::json line = {{"step", step + 1},  {"loss", loss},        {"lr", lr},
                           {"grad_norm", stats.grad_norm}, {"tokens_per_s", tok_s}, {"mfu", mfu},
                           {"elapsed_s", seconds_since(t_start)}};
    const bool last = step + 1 == steps;
    if (eval_on && ((step + 1) % cfg.train.eval_every == 0 || last)) {
      report.evals.push_back(evaluate(model, data, cfg, step + 1, x, y));
      add_eval_fields(line, report.evals.back());
    }
    metrics.write(line);
    if ((step + 1) % cfg.log.every == 0 || last || step == 0) {
      ProgressInfo p{step + 1, steps, loss, lr, tok_s, mfu, avg_step * static_cast<double>(steps - step - 1)};
      std::printf("%s\n", format_progress(p).c_str());
    }
    if (line.contains("val_loss") || line.contains("eval_accuracy"))
      std::printf("%s\n", format_eval(report.evals.back()).c_str());
    std::fflush(stdout);
    report.final_loss = loss;
    report.steps = step + 1;
  }

  save_model_file(report.weights_path, model, data.tokenizer.get(), config_ini);
  report.seconds = seconds_since(t_start);
  report.tokens_per_s = train_seconds > 0 ? static_cast<double>(tokens_per_step * steps) / train_seconds : 0.0;
  report.mfu = flops_per_token * report.tokens_per_s / (peak_gflops * 1e9);
  return report;
}

}  // namespace pouch
