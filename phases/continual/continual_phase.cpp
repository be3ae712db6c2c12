#include "phases/continual/continual_phase.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "checkpoint/serving_versions.h"
#include "data/arith_problem.h"
#include "data/stable_hash.h"
#include "parallel/uniform_error.h"
#include "phases/common/dp_reducer.h"
#include "phases/common/next_token_step.h"
#include "phases/common/phase_loop.h"
#include "phases/common/phase_precision.h"
#include "phases/common/progress.h"
#include "phases/continual/continual_batches.h"
#include "phases/continual/continual_summary.h"
#include "phases/continual/ewc_penalty.h"
#include "phases/continual/watched_batches.h"
#include "phases/schedule/run_state.h"
#include "phases/schedule/schedule_runner.h"
#include "phases/schedule/world_agreement.h"
#include "runtime/adamw_optimizer.h"
#include "runtime/log.h"
#include "runtime/rng.h"

namespace pouch {

namespace {

// "qkv, fc" -> {"qkv", "fc"} (GPT::enable_lora names an unknown target).
std::vector<std::string> parse_targets(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::string item = text.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

ContinualDataConfig data_config(const PhaseContext& ctx) {
  const ContinualPhaseConfig& c = ctx.phase.continual;
  ContinualDataConfig d;
  d.new_level = c.new_level;
  d.new_samples = c.new_samples;
  d.old_max_level = ctx.cfg.data.task_max_level;
  d.replay_ratio = c.replay_ratio;
  d.batch_size = ctx.cfg.train.batch_size;
  d.grad_accum = ctx.cfg.train.grad_accum;
  d.seq_len = ctx.cfg.model.seq_len;
  d.seed = ctx.cfg.train.seed;
  d.phase_index = ctx.phase.index;
  return d;
}

WatchBatchConfig watch_config(const PhaseContext& ctx) {
  const ContinualPhaseConfig& c = ctx.phase.continual;
  WatchBatchConfig w;
  w.batch_size = ctx.cfg.train.batch_size;
  w.grad_accum = ctx.cfg.train.grad_accum;
  w.replay_ratio = c.replay_ratio;
  w.wait_when_idle = c.on_idle == "wait";
  w.idle_timeout_s = c.idle_timeout_s;
  w.poll_s = c.watch_poll_s;
  return w;
}

// The tokenizer that encodes the watched directory's text: the shards' own,
// else the built-in task's.
const Tokenizer& watch_tokenizer(const PhaseContext& ctx) {
  if (ctx.data.tokenizer) return *ctx.data.tokenizer;
  if (ctx.data.task_tokenizer) return *ctx.data.task_tokenizer;
  fail(
      "{}: watch_dir needs the tokenizer of the run's data to encode new text, but data.path = '{}' has no "
      "tokenizer.json beside its shards: prepare the data with pouch data prepare, or copy its tokenizer.json "
      "there",
      ctx.phase.name(), ctx.cfg.data.path);
}

constexpr const char* kLoraPrefix = "continual/lora/";
constexpr const char* kWatchBeforeKey = "continual_watch_before";
constexpr const char* kEwcPrefix = "continual/ewc/";

class ContinualPhase final : public Phase {
 public:
  explicit ContinualPhase(const PhaseContext& ctx)
      : ctx_(ctx),
        cc_(ctx.phase.continual),
        optim_cfg_(ctx.optim()),
        precision_(ctx.phase),
        prev_recompute_(ctx.model.recompute()) {
    if (watching()) {
      stream_ =
          std::make_unique<WatchedStream>(cc_.watch_dir, parse_watch_protocol(cc_.watch_protocol, "watch_protocol"),
                                          ctx.cfg.model.seq_len, watch_tokenizer(ctx), ctx.cfg.model.vocab_size);
      watched_ = std::make_unique<WatchedBatches>(watch_config(ctx), *stream_, *ctx.data.train);
    } else {
      batches_ = std::make_unique<ContinualBatches>(data_config(ctx), *ctx.data.task_corpus);
    }
    const auto& cfg = ctx.cfg;
    GPT& model = ctx.model;
    if (lora()) {
      LoraConfig lc;
      lc.rank = cc_.lora_rank;
      lc.alpha = static_cast<float>(cc_.lora_alpha);
      lc.targets = parse_targets(cc_.lora_targets);
      lc.seed = RngStream(cfg.train.seed, derive_stream("continual.lora", static_cast<std::uint64_t>(ctx.phase.index)))
                    .next_u64();
      model.enable_lora(lc);
      model.set_base_frozen(true);
      for (auto& p : model.lora_parameters())
        if (p.name.ends_with(".lora_B")) p.lr_scale = static_cast<float>(cc_.lora_plus_ratio);
      optimizer_ = std::make_unique<AdamWOptimizer>(model.lora_parameters(), optim_cfg_, ctx.be);
      // The grad-ready hook does not announce adapter parameters: one
      // all-reduce of their flat buffer after backward.
      reducer_ = make_dp_reducer(ctx, model.lora_parameters(), nullptr);
    } else {
      optimizer_ = std::make_unique<AdamWOptimizer>(model.parameters(), optim_cfg_, ctx.be);
      reducer_ = make_dp_reducer(ctx, model.parameters(), &model);
      if (cc_.ewc_lambda > 0) ewc_ = std::make_unique<EwcPenalty>(model.parameters(), ctx.be);
    }
    // The old levels (on the built-in task), then the new one; a watched
    // directory's new data has no levels: validation loss measures it.
    if (ctx.data.task_tokenizer)
      for (int l = 1; l <= static_cast<int>(cfg.data.task_max_level); ++l) eval_levels_.push_back(l);
    if (!watching()) eval_levels_.push_back(static_cast<int>(cc_.new_level));
  }

  ~ContinualPhase() override {
    GPT& model = ctx_.model;
    model.set_recompute(prev_recompute_);
    // Stopped before the last step (a signal): the adapters live on in the
    // checkpoint; leave the model as the phase found it.
    if (model.lora_enabled()) model.remove_lora();
    model.set_base_frozen(false);
  }

  void restore(const std::string& file, bool verify) override;
  PhaseOutcome run(std::int64_t first_step) override;

 private:
  bool lora() const { return cc_.isolation == "lora"; }
  bool watching() const { return !cc_.watch_dir.empty(); }
  // Polls and waits for the step's new data (watch_dir), printing what arrived.
  WatchStepPlan plan_watched_step();
  void fill_fisher(std::int64_t batch, std::int64_t first_row, std::int64_t count, const Tensor& x,
                   const Tensor& y) const;
  // The store the optimizer updates: the adapters, or every weight.
  ParameterStore& trained() const { return lora() ? ctx_.model.lora_parameters() : ctx_.model.parameters(); }
  // The fp32 value of `p` of the trained store (the master under bf16/fp16).
  Tensor master_of(const Parameter& p) const { return precision_.master_of(p); }
  const Tensor& master_values() const { return precision_.master_values(trained()); }
  std::int64_t tokens_per_step() const {
    return ctx_.cfg.train.batch_size * ctx_.cfg.model.seq_len * ctx_.cfg.train.grad_accum;
  }

  // The tensors a checkpoint inside the phase holds beyond /model and /optim
  // (views; restore reads into them).
  std::vector<ShardedTensor> phase_tensors() const;
  CheckpointState capture(std::int64_t in_phase_steps) const;
  void estimate_fisher(const Tensor& x, const Tensor& y);
  void zero_grads() const;
  // Adapters into the base at the last step; afterwards the model is a plain GPT.
  void merge_adapters();
  // Publishes the model's (merged) weights as `version` to <run_dir>/serve;
  // returns the version LATEST names afterwards.
  std::int64_t publish(std::int64_t version);

  PhaseContext ctx_;
  const ContinualPhaseConfig& cc_;
  OptimConfig optim_cfg_;
  PhasePrecision precision_;
  std::unique_ptr<ContinualBatches> batches_;  // the built-in task's new level (no watch_dir)
  std::unique_ptr<WatchedStream> stream_;      // watch_dir: the files' tokens
  std::unique_ptr<WatchedBatches> watched_;    // watch_dir: rows from stream_ and the run's data
  bool prev_recompute_;
  std::unique_ptr<AdamWOptimizer> optimizer_;  // null after the merge
  std::unique_ptr<DpReducer> reducer_;         // the trained store's; null at dp = 1
  std::unique_ptr<EwcPenalty> ewc_;
  bool merged_ = false;
  std::vector<int> eval_levels_;       // old levels 1..task_max_level, then the new level
  std::vector<LevelAccuracy> before_;  // accuracy of eval_levels_ at the phase start
  double before_val_loss_ = 0.0;       // validation loss at the phase start (watch_dir's summary)
};

std::vector<ShardedTensor> ContinualPhase::phase_tensors() const {
  std::vector<ShardedTensor> out;
  if (merged_) return out;
  if (lora()) {
    for (const auto& p : ctx_.model.lora_parameters()) {
      out.push_back({kLoraPrefix + p.name, p.full_shape, p.shard, master_of(p)});
      out.push_back({std::string(kLoraPrefix) + "m/" + p.name, p.full_shape, p.shard, optimizer_->exp_avg_of(p)});
      out.push_back({std::string(kLoraPrefix) + "v/" + p.name, p.full_shape, p.shard, optimizer_->exp_avg_sq_of(p)});
    }
  }
  if (ewc_) {
    for (const auto& p : ctx_.model.parameters()) {
      out.push_back({std::string(kEwcPrefix) + "fisher/" + p.name, p.full_shape, p.shard, ewc_->fisher_of(p)});
      out.push_back({std::string(kEwcPrefix) + "anchor/" + p.name, p.full_shape, p.shard, ewc_->anchor_of(p)});
    }
  }
  return out;
}

CheckpointState ContinualPhase::capture(std::int64_t in_phase_steps) const {
  const GPT& model = ctx_.model;
  const std::int64_t global = ctx_.step_offset + in_phase_steps;
  const std::int64_t tokens = tokens_per_step() * global;
  CheckpointState s;
  if (!lora() && !merged_) {
    s = capture_run_state(model, *optimizer_, RunPosition{});
    std::size_t i = 0;
    for (const auto& p : model.parameters()) s.model[i++].local = precision_.master_of(p);
  } else {
    // The base (frozen, fp32) or, after the merge, the adapted model; no
    // /optim: the adapters' moments are phase tensors.
    for (const auto& p : model.parameters()) s.model.push_back({p.name, p.full_shape, p.shard, p.value});
  }
  ctx_.stamp(s, global, tokens);
  s.phase = phase_tensors();
  if (lora() && !merged_) s.data_per_rank["continual_lora_optim"] = {optimizer_->steps_taken()};
  std::vector<std::int64_t> before;
  for (const auto& l : before_) before.insert(before.end(), {l.level, l.total, l.correct, l.well_formed});
  s.data_per_rank["continual_before"] = before;
  precision_.capture(s);
  if (stream_) {
    stream_->save(s);
    s.f64_per_rank[kWatchBeforeKey] = {before_val_loss_};
  }
  s.data_per_rank["position"] = {global, tokens, 0};
  return s;
}

void ContinualPhase::restore(const std::string& file, bool verify) {
  GPT& model = ctx_.model;
  // The constructor enabled the adapters (and allocated the optimizer and
  // EWC buffers): read straight into them.
  CheckpointState s;
  if (!lora()) {
    s = capture_run_state(model, *optimizer_, RunPosition{});
    s.data_per_rank.clear();
  } else {
    for (const auto& p : model.parameters()) s.model.push_back({p.name, p.full_shape, p.shard, p.value});
  }
  s.phase = phase_tensors();
  ReadOptions options;
  options.rank = ctx_.ranks.world_rank;
  options.verify = verify;
  options.optim = !lora();
  read_checkpoint_staged(ctx_.be, file, s, options);
  // The phase's rows hold the same values on every rank; read rank 0's, which
  // every checkpoint has (a rank beyond the writer's world finds no row of its own).
  const CheckpointState rows = read_checkpoint_rows(file, 0);
  if (lora()) {
    const auto it = rows.data_per_rank.find("continual_lora_optim");
    if (it == rows.data_per_rank.end() || it->second.size() != 1)
      fail(
          "{}: no /data/continual_lora_optim (the adapters' optimizer step); it was not written by a continual "
          "phase with isolation = lora: resume with the config that wrote it",
          file);
    optimizer_->set_steps_taken(it->second[0]);
  } else {
    optimizer_->set_steps_taken(s.optim_step);
  }
  before_.clear();
  if (auto it = rows.data_per_rank.find("continual_before"); it != rows.data_per_rank.end()) {
    const auto& v = it->second;
    for (std::size_t i = 0; i + 3 < v.size(); i += 4)
      before_.push_back({static_cast<int>(v[i]), v[i + 1], v[i + 2], v[i + 3]});
  }
  if (before_.size() != eval_levels_.size())
    fail(
        "{}: /data/continual_before holds {} levels, this phase evaluates {}: the checkpoint was not written by "
        "this continual phase; resume with the config that wrote it",
        file, before_.size(), eval_levels_.size());
  precision_.restore(file);
  if (stream_) {
    stream_->restore(rows, file);
    const auto it = rows.f64_per_rank.find(kWatchBeforeKey);
    if (it == rows.f64_per_rank.end() || it->second.size() != 1)
      fail(
          "{}: no /data_f64/{}: it was not written by a continual phase with watch_dir; resume with the config "
          "that wrote it",
          file, kWatchBeforeKey);
    before_val_loss_ = it->second[0];
  }
}

WatchStepPlan ContinualPhase::plan_watched_step() {
  WatchStepPlan plan = watched_->plan_step(ctx_.ranks, ctx_.be);
  for (const auto& e : plan.added) {
    if (e.error.empty())
      ctx_.services.print(fmt::format("{}: watch: learning {}", ctx_.phase.name(), describe(e)));
    else if (ctx_.ranks.main())
      log_warn("{}: watch: {}", ctx_.phase.name(), describe(e));
  }
  return plan;
}

void ContinualPhase::fill_fisher(std::int64_t batch, std::int64_t first_row, std::int64_t count, const Tensor& x,
                                 const Tensor& y) const {
  if (watched_)
    watched_->fill_fisher(batch, first_row, count, x.i32(), y.i32());
  else
    batches_->fill_fisher(batch, first_row, count, x.i32(), y.i32());
}

void ContinualPhase::zero_grads() const {
  ctx_.model.parameters().zero_grad();
  if (ctx_.model.lora_enabled()) ctx_.model.lora_parameters().zero_grad();
}

void ContinualPhase::estimate_fisher(const Tensor& x, const Tensor& y) {
  GPT& model = ctx_.model;
  const std::int64_t B = ctx_.cfg.train.batch_size, T = ctx_.cfg.model.seq_len;
  const std::int64_t B_local = B / ctx_.ranks.dp_size();
  const std::int64_t K = cc_.ewc_batches;
  ewc_->set_anchor(master_values());
  for (std::int64_t b = 0; b < K; ++b) {
    zero_grads();
    if (reducer_) reducer_->begin();
    fill_fisher(b, ctx_.ranks.dp_rank() * B_local, B_local, x, y);
    model.forward_deferred(x, y, 1.0f / static_cast<float>(B * T));  // g_b: gradient of the global batch's mean loss
    model.backward();
    if (reducer_) reducer_->finish();
    ewc_->accumulate_fisher(model.parameters().grads(), 1.0 / static_cast<double>(K));
  }
  zero_grads();
  // A one-off read at the phase start, for the log line.
  Tensor fisher = ewc_->fisher();
  if (!fisher.on_host()) {
    fisher = Tensor::empty(ewc_->fisher().shape());
    ctx_.be.copy(fisher, ewc_->fisher());
  }
  double fsum = 0.0;
  const float* f = fisher.f32();
  for (std::int64_t i = 0; i < fisher.numel(); ++i) fsum += f[i];
  if (ctx_.ranks.main())
    log_info("{}: EWC Fisher from {} old-data batches of {} rows: mean {:.3e}", ctx_.phase.name(), K, B,
             fsum / static_cast<double>(model.parameters().numel()));
}

void ContinualPhase::merge_adapters() {
  GPT& model = ctx_.model;
  // Merge the fp32 masters of the adapters, not their 16-bit working copy.
  precision_.finish();
  model.merge_lora();  // collective under tensor parallelism
  optimizer_.reset();  // its store went with the adapters
  reducer_.reset();
  model.set_base_frozen(false);
  merged_ = true;
}

std::int64_t ContinualPhase::publish(std::int64_t version) {
  GPT& model = ctx_.model;
  // Not for safety (checkpoint/hdf5_handle.h serialises every HDF5 call):
  // the pending checkpoint finishes first so that the published version never
  // waits on its lock part-way through its own file.
  ctx_.services.wait();
  // Host copies for the weights file (one read per tensor on a device).
  const NamedTensors named = model.on_host(model.lora_enabled() ? model.merged_named_values() : model.named_values());
  const std::string dir = serving_dir(resolve_run_dir(ctx_.cfg));
  std::int64_t latest = 0;
  std::string error;
  if (ctx_.ranks.main()) {
    try {
      const auto current = read_latest_serving_version(dir);
      if (current && current->version >= version) {
        // A resumed phase redoes steps it had published: a server never goes back.
        log_info("{}: version {} already published (LATEST is {}); not publishing again", ctx_.phase.name(), version,
                 current->version);
        latest = current->version;
      } else {
        latest =
            publish_serving_version(dir, version, named, model.config(), ctx_.tokenizer_json, ctx_.config_ini).version;
        log_info("{}: published weights version {} to {}", ctx_.phase.name(), latest, dir);
      }
    } catch (const Error& e) {
      error = e.what();
    }
  }
  // Every rank learns whether rank 0 managed (and which version is live).
  const bool failed = broadcast_from_rank0(ctx_.ranks, ctx_.be, error.empty() ? 0.0 : 1.0) != 0.0;
  if (failed && error.empty()) error = "publishing failed on rank 0 (see its log)";
  latest = static_cast<std::int64_t>(broadcast_from_rank0(ctx_.ranks, ctx_.be, static_cast<double>(latest)));
  if (!error.empty()) fail("{}: publishing version {} to {}: {}", ctx_.phase.name(), version, dir, error);
  return latest;
}

PhaseOutcome ContinualPhase::run(std::int64_t first_step) {
  const RunConfig& cfg = ctx_.cfg;
  GPT& model = ctx_.model;
  Backend& be = ctx_.be;
  const TrainRanks& ranks = ctx_.ranks;
  RunServices& services = ctx_.services;
  const std::int64_t B = cfg.train.batch_size, T = cfg.model.seq_len, A = cfg.train.grad_accum;
  const std::int64_t B_local = B / ranks.dp_size();
  model.set_recompute(cc_.recompute);
  // The trained store's values become the 16-bit working copy of fp32
  // masters (the frozen base of isolation = lora stays fp32).
  precision_.begin(model, trained());
  const std::string learns =
      watching() ? fmt::format(
                       "new files in {} ({}, on idle {}, idle timeout {} s), replay {} of {} rows per batch from "
                       "the run's data",
                       cc_.watch_dir, cc_.watch_protocol, cc_.on_idle, cc_.idle_timeout_s, B - watched_->new_rows(), B)
                 : fmt::format("new level {} ({} samples), replay {} of {} rows per batch from levels 1..{}",
                               cc_.new_level, cc_.new_samples, batches_->replay_rows(), B, cfg.data.task_max_level);
  services.print(fmt::format(
      "{}: {}, isolation {}{}{}, {}", ctx_.phase.name(), learns, cc_.isolation,
      lora() ? fmt::format(" (rank {}, alpha {}, {}: {} parameters)", cc_.lora_rank, cc_.lora_alpha, cc_.lora_targets,
                           model.lora_parameters().full_numel())
             : std::string(),
      ewc_ ? fmt::format(", EWC lambda {} over {} batches", cc_.ewc_lambda, cc_.ewc_batches) : std::string(),
      precision_name(precision_.precision())));

  // Host batches: GPT::forward copies them to the device.
  const Tensor x = Tensor::empty({B_local, T}, DType::I32), y = Tensor::empty({B_local, T}, DType::I32);
  if (first_step == 0) {
    const EvalResult& e = ctx_.record_eval(ctx_.step_offset, x, y, eval_levels_);
    before_ = e.levels;
    before_val_loss_ = e.val_loss;
    services.print(format_eval(e));
    if (ewc_) estimate_fisher(x, y);
  }
  POUCH_CHECK(before_.size() == eval_levels_.size(), "continual phase without its start evaluation");

  const float dloss = 1.0f / static_cast<float>(B * T * A);
  const double flops_per_token = model.train_flops_per_token(T);
  // What the step leaves for its report.
  OptimizerStepStats stats;
  double penalty = 0.0;
  bool applied = false;
  WatchStepPlan plan;
  PhaseLoopHooks hooks;
  hooks.step = [&](const StepInput& in) {
    if (watched_) plan = plan_watched_step();
    const bool last = in.last || plan.ends_phase;
    zero_grads();
    const Tensor loss_sums = accumulate_gradients(
        ctx_, reducer_.get(), x, y, dloss * static_cast<float>(precision_.loss_scale()), [&](std::int64_t micro) {
          if (watched_)
            watched_->fill(plan, in.step, micro, ranks.dp_rank() * B_local, B_local, x.i32(), y.i32());
          else
            batches_->fill(in.step, micro, ranks.dp_rank() * B_local, B_local, x.i32(), y.i32());
        });
    const bool fp16 = precision_.precision() == Precision::FP16;
    stats = OptimizerStepStats{};
    penalty = 0.0;
    double mean_loss = 0.0;
    applied = precision_.apply_update(ranks, be, in.global + 1, [&] {
      if (ewc_) {
        // The penalty's gradient joins the data gradient before clipping.
        ewc_->add_gradient(master_values(), model.parameters().grads(), cc_.ewc_lambda);
        penalty = ewc_->penalty(master_values(), cc_.ewc_lambda);
      }
      std::array<double, 2> loss{};
      // The step's one host sync (with EWC, its penalty is another).
      const double norm = lora() ? model.lora_grad_norm(loss_sums, loss) : model.grad_norm(loss_sums, loss);
      mean_loss = step_mean_loss(ctx_, loss, in.global + 1, fp16);
      stats = optimizer_->step(in.lr, norm);
    });
    if (!applied) mean_loss = step_mean_loss(ctx_, read_loss_sums(be, loss_sums), in.global + 1, fp16);
    if (watched_) watched_->finish_step(plan);
    if (last) {
      // The boundary checkpoint, model.h5 and the next phase get the adapted
      // fp32 model.
      if (lora())
        merge_adapters();
      else
        precision_.finish();
    }
    StepResult r = next_token_result(cfg, flops_per_token, mean_loss);
    r.ends_phase = plan.ends_phase;
    return r;
  };
  hooks.evaluate = [&](std::int64_t global_step) -> const EvalResult& {
    return ctx_.record_eval(global_step, x, y, eval_levels_);
  };
  hooks.report = [&](const StepInput& in, const StepResult& r, const StepTiming& timing, const EvalResult* eval,
                     bool last) {
    StepReport report = next_token_report(ctx_, in, r, timing, stats.grad_norm);
    nlohmann::json& line = report.line;
    if (watched_) {
      std::int64_t fresh = 0;
      for (std::int64_t m = 0; m < A; ++m) fresh += watched_->new_rows_in(plan, m);
      line["replay_rows"] = B - fresh / A;
      line["watch_new_windows"] = plan.new_windows;
      line["watch_wait_s"] = plan.waited_s;
      line["watch_files"] = stream_->files_learned();
      line["watch_skipped"] = stream_->files_skipped();
      line["watch_tokens_learned"] = stream_->windows_consumed() * T;
      line["watch_tokens_pending"] = stream_->pending_tokens();
    } else {
      line["replay_rows"] = batches_->replay_rows();
    }
    if (reducer_) reducer_->add_metrics(line);
    if (ewc_) line["ewc_penalty"] = penalty;
    precision_.add_metrics(line, applied);
    if (last) {
      POUCH_CHECK(eval != nullptr, "the last continual step without its evaluation");
      if (watched_) {
        report.summary = fmt::format(
            "learned {} files from {} ({} tokens in {} windows, {} pending), skipped {}; val loss {:.4f} -> {:.4f}",
            stream_->files_learned(), cc_.watch_dir, stream_->tokens_received(), stream_->windows_consumed(),
            stream_->pending_tokens(), stream_->files_skipped(), before_val_loss_, eval->val_loss);
        line["continual_val_loss_before"] = before_val_loss_;
        line["continual_val_loss_after"] = eval->val_loss;
      } else {
        const ContinualSummary s = summarize_continual(before_, eval->levels, static_cast<int>(cc_.new_level));
        add_continual_summary_fields(line, s);
        report.summary = format_continual_summary(s);
      }
      report.after.push_back(fmt::format("{} summary: {}", ctx_.phase.name(), report.summary));
    }
    if (last || (cc_.publish_every > 0 && (in.step + 1) % cc_.publish_every == 0))
      line["published_version"] = publish(in.global + 1);
    return report;
  };
  hooks.capture = [this](std::int64_t in_phase_steps) { return capture(in_phase_steps); };
  return run_phase_steps(ctx_, first_step, hooks);
}

}  // namespace

std::unique_ptr<Phase> make_continual_phase(const PhaseContext& ctx) { return std::make_unique<ContinualPhase>(ctx); }

}  // namespace pouch
