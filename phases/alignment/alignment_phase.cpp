#include "phases/alignment/alignment_phase.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "model/value_head.h"
#include "parallel/uniform_error.h"
#include "phases/alignment/alignment_step_stats.h"
#include "phases/alignment/grpo_math.h"
#include "phases/alignment/held_out_reward.h"
#include "phases/alignment/ppo_math.h"
#include "phases/alignment/rollout.h"
#include "phases/alignment/task_reward_scorers.h"
#include "phases/common/dp_reducer.h"
#include "phases/common/phase_loop.h"
#include "phases/schedule/run_state.h"
#include "runtime/adamw_optimizer.h"
#include "runtime/log.h"

namespace pouch {

namespace {

// Phase tensors in checkpoints: the reference model, the value head and the
// critic with their AdamW moments (the policy's are /model and /optim).
constexpr const char* kPrefix = "ppo/";

KlController make_kl_controller(const PhaseConfig& phase) {
  const AlignmentPhaseConfig& a = phase.align;
  const double beta = a.kl_coef >= 0 ? a.kl_coef : (phase.kind == PhaseKind::Grpo ? 0.04 : 0.05);
  if (a.kl_target > 0) return KlController::adaptive(beta, a.kl_target, static_cast<double>(a.kl_horizon));
  return KlController::fixed(beta);
}

WeightedReward make_reward(const PhaseConfig& phase) {
  const AlignmentPhaseConfig& a = phase.align;
  TaskRewardConfig r;
  r.weights = a.reward_weights;
  r.lexicon = a.reward_lexicon;
  r.diversity_n = static_cast<int>(a.reward_diversity_n);
  r.token_budget = a.reward_length_budget;
  return make_task_reward(r, fmt::format("phase.{}.reward_weights", phase.index));
}

// (Re)allocates `t` when it is not of `shape` (buffers reused across updates).
void ensure_shape(Backend& be, Tensor& t, const Shape& shape, DType dtype) {
  if (!t.defined() || t.shape() != shape || t.dtype() != dtype) t = be.empty(shape, dtype);
}

double format_fraction(const std::vector<LevelAccuracy>& levels) {
  std::int64_t ok = 0, total = 0;
  for (const auto& l : levels) {
    ok += l.well_formed;
    total += l.total;
  }
  return total > 0 ? static_cast<double>(ok) / static_cast<double>(total) : 0.0;
}

void finish_reduction(DpReducer* reducer) {
  if (reducer) reducer->finish();
}

// Per-token arrays of one rollout batch (this rank's rows), action tokens
// back to back in row order (PackedRollouts::offsets).
struct RolloutTensors {
  std::vector<float> old_lp, ref_lp, values, entropy;
  std::vector<float> advantages, returns;  // ppo
  std::vector<double> sample_adv;          // grpo: one per sample
  std::vector<double> seq_reward;          // one per sample
};

class AlignmentPhase final : public Phase {
 public:
  explicit AlignmentPhase(const PhaseContext& ctx);
  ~AlignmentPhase() override { ctx_.model.set_track_entropy(false); }

  void restore(const std::string& file, bool verify) override;
  // The phase start's evaluation, then the steps through run_phase_steps
  // (phases/common/phase_loop.h) with step() and report() as its hooks.
  PhaseOutcome run(std::int64_t first_step) override;

 private:
  // What step() leaves for report(): the step's sums over dp and its KL
  // coefficient (before the step's update of it).
  struct StepState {
    AlignmentStepStats stats;
    double beta = 0.0;
    bool ceiling_hit = false;
  };

  // Held-out accuracy, format and reward before the first step (the summary's "before").
  void evaluate_start(const Tensor& ex, const Tensor& ey);
  // One phase step (the loop's step hook): rollouts, advantages, updates,
  // the sums over dp, the KL controller and the KL ceiling.
  StepResult step(const StepInput& in);
  // Steps 1-4 of the header: this rank's prompts of global step `global`,
  // their rollouts and rewards (into rt.seq_reward and the stats' rollout
  // fields), then old/reference log-probs, entropy and values, and the
  // rollout policy's KL vs the reference.
  PackedRollouts rollout_and_score(std::int64_t global, RolloutTensors& rt, AlignmentStepStats& stats);
  // Step 5's advantages (ppo: KL-shaped rewards, GAE, whitened over the
  // global batch; grpo: per group). Returns each minibatch's action tokens
  // summed over dp (the losses' global normaliser).
  std::vector<double> compute_advantages(const PackedRollouts& batch, RolloutTensors& rt);
  // `epochs` passes of `minibatches` updates.
  void run_updates(const PackedRollouts& batch, const RolloutTensors& rt, const std::vector<double>& token_counts,
                   float lr, AlignmentStepStats& stats);
  // One minibatch update; adds its stats to `sums`.
  void update(const PackedRollouts& batch, const RolloutTensors& rt, std::int64_t row0, std::int64_t nrows,
              double token_count, double sample_count, float lr, AlignmentStepStats& sums);
  // The metrics, progress and (last step) summary of the step step() just ran.
  StepReport report(const StepInput& in, const StepTiming& timing, const EvalResult* eval, bool last);
  // Old and reference log-probs, entropy and values of this rank's rows.
  void score_batch(const PackedRollouts& batch, std::int64_t chunk_rows, RolloutTensors& rt);
  // Sum over this rank's action tokens of k3(policy now, reference).
  double kl_sum_now(const PackedRollouts& batch, std::int64_t chunk_rows, const RolloutTensors& rt);
  // Values of rows [row0, row0 + nrows) from the last forward's final hidden
  // state of `trunk` into out (this call's action tokens).
  void values_of(GPT& trunk, const PackedRollouts& batch, std::int64_t row0, std::int64_t nrows, std::span<float> out);
  std::vector<ShardedTensor> phase_tensors() const;
  CheckpointState capture(std::int64_t in_phase_steps) const;

  bool is_ppo() const { return !grpo_; }
  std::string kind() const { return grpo_ ? "grpo" : "ppo"; }
  RolloutOptions rollout_options() const;
  int min_level() const { return static_cast<int>(a_.prompt_min_level); }
  int max_level() const {
    return static_cast<int>(a_.prompt_max_level > 0 ? a_.prompt_max_level : ctx_.cfg.data.task_max_level);
  }
  HeldOutReward held_out_reward();
  std::int64_t local_prompts() const { return a_.prompts_per_step / ctx_.ranks.dp_size(); }
  std::int64_t local_rows() const { return local_prompts() * a_.samples_per_prompt; }
  std::int64_t minibatch_rows() const { return local_rows() / a_.minibatches; }
  // Completions per step over every data-parallel rank.
  double global_samples() const { return static_cast<double>(local_rows() * ctx_.ranks.dp_size()); }

  PhaseContext ctx_;
  const AlignmentPhaseConfig& a_;
  bool grpo_;
  OptimConfig optim_cfg_;
  AdamWOptimizer optimizer_;
  GPT ref_;
  std::unique_ptr<GPT> critic_;
  std::unique_ptr<AdamWOptimizer> critic_optim_;
  ParameterStore head_store_;
  std::unique_ptr<ValueHead> head_;
  std::unique_ptr<AdamWOptimizer> head_optim_;
  KlController kl_;
  KlEstimator estimator_;
  bool kl_in_loss_;
  WeightedReward reward_;
  // Held-out accuracy and format at the phase start, and the first step's
  // mean reward: the summary line's "before" (checkpointed for resumes).
  std::vector<double> summary_ = {-1.0, -1.0, -1.0};
  // The held-out reward at the phase start (phases/alignment/held_out_reward.h): its
  // total, then each dimension; empty when reward_eval_prompts = 0.
  std::vector<double> held_out_before_;
  Tensor hidden_grad_, dvalues_, values_buf_;
  // The dp sums of the gradients, one flat all-reduce per store after the
  // update's backward (make_dp_reducer without an announcing model): the
  // reduction alignment has always done; null at dp = 1.
  std::unique_ptr<DpReducer> policy_dp_, head_dp_, critic_dp_;
  StepState step_;
};

AlignmentPhase::AlignmentPhase(const PhaseContext& ctx)
    : ctx_(ctx),
      a_(ctx.phase.align),
      grpo_(ctx.phase.kind == PhaseKind::Grpo),
      optim_cfg_(ctx.optim()),
      optimizer_(ctx.model.parameters(), optim_cfg_, ctx.be),
      ref_(ctx.cfg.model, ctx.be, TensorParallelGroup(ctx.ranks.tp)),
      kl_(make_kl_controller(ctx.phase)),
      estimator_(KlEstimator::K1),
      kl_in_loss_(false),
      reward_(make_reward(ctx.phase)) {
  const std::string prefix = fmt::format("phase.{}.", ctx.phase.index);
  if (!a_.kl_estimator.empty())
    estimator_ = parse_kl_estimator(a_.kl_estimator, prefix + "kl_estimator");
  else
    estimator_ = grpo_ ? KlEstimator::K3 : KlEstimator::K1;
  // GRPO's KL is always a loss term; PPO's is a reward penalty with k1 and a
  // loss term with k3 (k3 as a per-token reward would bias the return).
  kl_in_loss_ = grpo_ || estimator_ == KlEstimator::K3;

  // The reference is the policy at the phase start (restore() overwrites it
  // with the checkpoint's on a resume inside the phase).
  ctx.be.copy(ref_.parameters().values(), ctx.model.parameters().values());
  if (is_ppo()) {
    if (a_.value_head == "separate") {
      critic_ = std::make_unique<GPT>(ctx.cfg.model, ctx.be, TensorParallelGroup(ctx.ranks.tp));
      ctx.be.copy(critic_->parameters().values(), ctx.model.parameters().values());
      critic_optim_ = std::make_unique<AdamWOptimizer>(critic_->parameters(), optim_cfg_, ctx.be);
    }
    head_ = std::make_unique<ValueHead>(head_store_, "value_head", ctx.cfg.model.d_model);
    head_store_.allocate(ctx.be);
    head_optim_ = std::make_unique<AdamWOptimizer>(head_store_, optim_cfg_, ctx.be);
  }
}

std::vector<ShardedTensor> AlignmentPhase::phase_tensors() const {
  std::vector<ShardedTensor> out;
  const std::string pre = kPrefix;
  for (const auto& p : ref_.parameters()) out.push_back({pre + "ref/" + p.name, p.full_shape, p.shard, p.value});
  auto add_trained = [&](const ParameterStore& store, const AdamWOptimizer& opt, const std::string& what) {
    for (const auto& p : store) {
      out.push_back({pre + what + "/" + p.name, p.full_shape, p.shard, p.value});
      out.push_back({pre + what + "_adam_m/" + p.name, p.full_shape, p.shard, opt.exp_avg_of(p)});
      out.push_back({pre + what + "_adam_v/" + p.name, p.full_shape, p.shard, opt.exp_avg_sq_of(p)});
    }
  };
  if (head_) add_trained(head_store_, *head_optim_, "value_head");
  if (critic_) add_trained(critic_->parameters(), *critic_optim_, "critic");
  return out;
}

CheckpointState AlignmentPhase::capture(std::int64_t in_phase_steps) const {
  const std::int64_t global = ctx_.step_offset + in_phase_steps;
  CheckpointState s = capture_run_state(ctx_.model, optimizer_, RunPosition{global, 0, 0});
  ctx_.stamp(s, global, 0);
  s.phase = phase_tensors();
  s.f64_per_rank["kl_coef"] = {kl_.beta()};
  s.f64_per_rank["align_summary"] = summary_;
  if (!held_out_before_.empty()) s.f64_per_rank["align_held_out_reward"] = held_out_before_;
  s.data_per_rank["position"] = {global, 0, 0};
  s.data_per_rank["align_optim_steps"] = {head_optim_ ? head_optim_->steps_taken() : 0,
                                          critic_optim_ ? critic_optim_->steps_taken() : 0};
  return s;
}

void AlignmentPhase::restore(const std::string& file, bool verify) {
  const int rank = ctx_.ranks.world_rank;
  restore_run_state(file, ctx_.model, optimizer_, rank, verify);
  CheckpointState s;
  s.phase = phase_tensors();  // views: read into the live buffers (through host memory on a device)
  ReadOptions options;
  options.rank = rank;
  options.verify = false;
  options.optim = false;
  read_checkpoint_staged(ctx_.be, file, s, options);
  auto row = [&](const auto& map, const char* key, std::size_t n) {
    const auto it = map.find(key);
    if (it == map.end() || it->second.size() != n)
      fail("{}: /data{}/{} is missing or has the wrong length; the checkpoint was not written by this {} phase", file,
           std::is_same_v<std::decay_t<decltype(it->second[0])>, double> ? "_f64" : "", key, kind());
    return it->second;
  };
  kl_.restore(row(s.f64_per_rank, "kl_coef", 1)[0]);
  summary_ = row(s.f64_per_rank, "align_summary", 3);
  if (a_.reward_eval_prompts > 0) held_out_before_ = row(s.f64_per_rank, "align_held_out_reward", reward_.size() + 1);
  const auto steps = row(s.data_per_rank, "align_optim_steps", 2);
  if (head_optim_) head_optim_->set_steps_taken(steps[0]);
  if (critic_optim_) critic_optim_->set_steps_taken(steps[1]);
}

void AlignmentPhase::values_of(GPT& trunk, const PackedRollouts& batch, std::int64_t row0, std::int64_t nrows,
                               std::span<float> out) {
  const std::int64_t N = nrows * batch.T, C = ctx_.cfg.model.d_model;
  ensure_shape(ctx_.be, values_buf_, {N}, DType::F32);
  head_->forward(ctx_.be, trunk.final_hidden().reshape({N, C}), values_buf_);
  gather_actions(ctx_.be, batch, row0, nrows, values_buf_, 1.0f, out);
}

void AlignmentPhase::score_batch(const PackedRollouts& batch, std::int64_t chunk_rows, RolloutTensors& rt) {
  GPT& model = ctx_.model;
  const std::int64_t n = batch.action_tokens(), T = batch.T;
  rt.old_lp.assign(static_cast<std::size_t>(n), 0.0f);
  rt.ref_lp = rt.entropy = rt.old_lp;
  if (is_ppo()) rt.values = rt.old_lp;
  model.set_track_entropy(true);
  for (std::int64_t r0 = 0; r0 < batch.rows; r0 += chunk_rows) {
    const Tensor x = batch.tokens.view(r0 * T, {chunk_rows, T}), y = batch.targets.view(r0 * T, {chunk_rows, T});
    const auto b = static_cast<std::size_t>(batch.offsets[static_cast<std::size_t>(r0)]);
    const auto e = static_cast<std::size_t>(batch.offsets[static_cast<std::size_t>(r0 + chunk_rows)]);
    auto span_of = [&](std::vector<float>& v) { return std::span<float>(v.data() + b, e - b); };
    model.forward_deferred(x, y);
    gather_actions(ctx_.be, batch, r0, chunk_rows, model.token_losses(), -1.0f, span_of(rt.old_lp));
    gather_actions(ctx_.be, batch, r0, chunk_rows, model.token_entropy(), 1.0f, span_of(rt.entropy));
    if (head_ && !critic_) values_of(model, batch, r0, chunk_rows, span_of(rt.values));
    ref_.forward_deferred(x, y);
    gather_actions(ctx_.be, batch, r0, chunk_rows, ref_.token_losses(), -1.0f, span_of(rt.ref_lp));
    if (critic_) {
      critic_->forward_hidden(x);
      values_of(*critic_, batch, r0, chunk_rows, span_of(rt.values));
    }
  }
  model.set_track_entropy(false);
}

double AlignmentPhase::kl_sum_now(const PackedRollouts& batch, std::int64_t chunk_rows, const RolloutTensors& rt) {
  const std::int64_t T = batch.T;
  double sum = 0.0;
  std::vector<float> lp;
  for (std::int64_t r0 = 0; r0 < batch.rows; r0 += chunk_rows) {
    const auto b = batch.offsets[static_cast<std::size_t>(r0)];
    const auto e = batch.offsets[static_cast<std::size_t>(r0 + chunk_rows)];
    lp.assign(static_cast<std::size_t>(e - b), 0.0f);
    ctx_.model.forward_deferred(batch.tokens.view(r0 * T, {chunk_rows, T}),
                                batch.targets.view(r0 * T, {chunk_rows, T}));
    gather_actions(ctx_.be, batch, r0, chunk_rows, ctx_.model.token_losses(), -1.0f, lp);
    for (std::int64_t k = b; k < e; ++k) sum += kl_k3(lp[static_cast<std::size_t>(k - b)], rt.ref_lp[k]);
  }
  return sum;
}

void AlignmentPhase::update(const PackedRollouts& batch, const RolloutTensors& rt, std::int64_t row0,
                            std::int64_t nrows, double token_count, double sample_count, float lr,
                            AlignmentStepStats& sums) {
  GPT& model = ctx_.model;
  Backend& be = ctx_.be;
  const std::int64_t T = batch.T, N = nrows * T, C = ctx_.cfg.model.d_model;
  const Tensor x = batch.tokens.view(row0 * T, {nrows, T}), y = batch.targets.view(row0 * T, {nrows, T});
  const auto b = static_cast<std::size_t>(batch.offsets[static_cast<std::size_t>(row0)]);
  const auto e = static_cast<std::size_t>(batch.offsets[static_cast<std::size_t>(row0 + nrows)]);
  const std::size_t n = e - b;
  auto part = [&](const std::vector<float>& v) { return std::span<const float>(v.data() + b, n); };

  model.parameters().zero_grad();
  if (head_) head_store_.zero_grad();
  if (critic_) critic_->parameters().zero_grad();
  for (DpReducer* r : {policy_dp_.get(), head_dp_.get(), critic_dp_.get()})
    if (r) r->begin();

  // The current log-probs first: the per-token weights of forward_weighted
  // are -dL/dlogprob, which depend on them (the ratio).
  std::vector<float> lp(n), grad(n, 0.0f);
  model.forward_deferred(x, y);
  gather_actions(be, batch, row0, nrows, model.token_losses(), -1.0f, lp);
  const double beta = kl_.beta();
  if (is_ppo()) {
    const PolicyLossResult pl =
        clipped_policy_loss(lp, part(rt.old_lp), part(rt.advantages), a_.clip_eps, token_count, grad);
    sums.policy_loss += pl.loss;
    sums.clipped += static_cast<double>(pl.clipped);
    sums.approx_kl += pl.approx_kl_sum;
    if (kl_in_loss_) {
      // + (beta / N) sum_t k_t: the KL term in the loss instead of the reward.
      const auto ref = part(rt.ref_lp);
      double kl = 0.0;
      for (std::size_t k = 0; k < n; ++k) {
        kl += kl_estimate(estimator_, lp[k], ref[k]);
        grad[k] += static_cast<float>(beta * kl_estimate_grad(estimator_, lp[k], ref[k]) / token_count);
      }
      sums.loss_kl += beta * kl / token_count;
      sums.policy_loss += beta * kl / token_count;
    }
  } else {
    std::vector<std::int64_t> offsets;
    for (std::int64_t r = row0; r <= row0 + nrows; ++r)
      offsets.push_back(batch.offsets[static_cast<std::size_t>(r)] - static_cast<std::int64_t>(b));
    const std::span<const double> adv(rt.sample_adv.data() + row0, static_cast<std::size_t>(nrows));
    const GrpoLossResult gl = grpo_loss(lp, part(rt.old_lp), part(rt.ref_lp), offsets, adv, a_.clip_eps, beta,
                                        sample_count, grad, estimator_);
    sums.policy_loss += gl.loss;
    sums.clipped += static_cast<double>(gl.clipped);
    // The KL term's share of the loss: beta * sum_i (1 / (S |o_i|)) sum_t k_t,
    // the normalisation grpo_loss uses, so it adds up over minibatches and ranks.
    const auto ref = part(rt.ref_lp);
    for (std::size_t i = 0; i + 1 < offsets.size(); ++i) {
      double kl = 0.0;
      for (auto k = offsets[i]; k < offsets[i + 1]; ++k)
        kl += kl_estimate(estimator_, lp[static_cast<std::size_t>(k)], ref[static_cast<std::size_t>(k)]);
      const auto len = std::max<std::int64_t>(1, offsets[i + 1] - offsets[i]);
      sums.loss_kl += beta * kl / (sample_count * static_cast<double>(len));
    }
    // approx KL of pi_old vs pi at pi_old's samples, as clipped_policy_loss
    // reports it: E[(r - 1) - log r], r = pi / pi_old.
    const auto old = part(rt.old_lp);
    for (std::size_t k = 0; k < n; ++k) sums.approx_kl += kl_k3(old[k], lp[k]);
  }
  sums.update_tokens += static_cast<double>(n);

  // Built on the host; forward_weighted copies them to the device.
  const Tensor weights = Tensor::zeros({nrows, T}, DType::F32);
  float* w = weights.f32();
  for (std::size_t k = 0; k < n; ++k) w[batch.positions[b + k] - row0 * T] = -grad[k];
  model.forward_weighted_deferred(x, y, weights);

  if (head_) {
    GPT& trunk = critic_ ? *critic_ : model;
    if (critic_) trunk.forward_hidden(x);
    std::vector<float> v(n), dv(n);
    values_of(trunk, batch, row0, nrows, v);
    const ValueLossResult vl = clipped_value_loss(v, part(rt.values), part(rt.returns), a_.value_clip, token_count, dv);
    sums.value_loss += vl.loss;
    sums.value_clipped += static_cast<double>(vl.clipped);
    // Shared trunk: L = L_policy + vf_coef L_value; a critic of its own has
    // its own optimizer, so its loss needs no weight.
    const float coef = critic_ ? 1.0f : static_cast<float>(a_.vf_coef);
    const Tensor dvalues_host = Tensor::zeros({N}, DType::F32);
    for (std::size_t k = 0; k < n; ++k) dvalues_host.f32()[batch.positions[b + k] - row0 * T] = coef * dv[k];
    ensure_shape(be, dvalues_, {N}, DType::F32);
    be.copy(dvalues_, dvalues_host);
    ensure_shape(be, hidden_grad_, {N, C}, DType::F32);
    be.fill(hidden_grad_, 0.0f);
    head_->backward(be, dvalues_, trunk.final_hidden().reshape({N, C}), hidden_grad_);
    trunk.add_final_hidden_grad(hidden_grad_);
    if (critic_) critic_->backward();
  }
  model.backward();

  finish_reduction(policy_dp_.get());
  optimizer_.step(lr, model.grad_norm());
  if (head_) {
    finish_reduction(head_dp_.get());
    head_optim_->step(lr);  // replicated: its local norm is the global one
  }
  if (critic_) {
    finish_reduction(critic_dp_.get());
    critic_optim_->step(lr, critic_->grad_norm());
  }
}

RolloutOptions AlignmentPhase::rollout_options() const {
  RolloutOptions ro;
  ro.samples_per_prompt = a_.samples_per_prompt;
  ro.max_new_tokens = a_.max_new_tokens;
  ro.temperature = static_cast<float>(a_.temperature);
  ro.top_p = static_cast<float>(a_.top_p);
  ro.seed = ctx_.cfg.train.seed;
  return ro;
}

HeldOutReward AlignmentPhase::held_out_reward() {
  return evaluate_held_out_reward(ctx_.model, *ctx_.data.task_tokenizer, reward_, rollout_options(), min_level(),
                                  max_level(), a_.reward_eval_prompts, ctx_.ranks);
}

void AlignmentPhase::evaluate_start(const Tensor& ex, const Tensor& ey) {
  const EvalResult& e = ctx_.record_eval(ctx_.step_offset, ex, ey);
  summary_[0] = overall_accuracy(e.levels);
  summary_[1] = format_fraction(e.levels);
  ctx_.services.print(format_eval(e));
  if (a_.reward_eval_prompts > 0) {
    const HeldOutReward h = held_out_reward();
    held_out_before_ = {h.total};
    held_out_before_.insert(held_out_before_.end(), h.dimensions.begin(), h.dimensions.end());
    ctx_.services.print(fmt::format("{}: held-out reward {:.4f} ({} prompts x {} samples, levels {}-{})",
                                    ctx_.phase.name(), h.total, h.prompts, a_.samples_per_prompt, min_level(),
                                    max_level()));
  }
}

PackedRollouts AlignmentPhase::rollout_and_score(std::int64_t global, RolloutTensors& rt, AlignmentStepStats& stats) {
  const CharTokenizer& tok = *ctx_.data.task_tokenizer;
  const std::int64_t G = a_.samples_per_prompt, P_local = local_prompts();
  const std::size_t D = reward_.size();
  const std::vector<RolloutPrompt> prompts =
      draw_prompts(tok, global * a_.prompts_per_step + ctx_.ranks.dp_rank() * P_local, P_local, min_level(),
                   max_level(), ctx_.cfg.train.seed);
  const std::vector<RolloutSample> samples = generate_rollouts(ctx_.model, tok, prompts, rollout_options());
  rt.seq_reward.assign(static_cast<std::size_t>(local_rows()), 0.0);
  stats.reward_dims.assign(D, 0.0);
  std::vector<Completion> group(static_cast<std::size_t>(G));
  for (std::int64_t i = 0; i < P_local; ++i) {
    for (std::int64_t j = 0; j < G; ++j)
      group[static_cast<std::size_t>(j)] = samples[static_cast<std::size_t>(i * G + j)].completion;
    const RewardBreakdown rb = reward_.score(group);
    for (std::int64_t j = 0; j < G; ++j) {
      rt.seq_reward[static_cast<std::size_t>(i * G + j)] = rb.total[static_cast<std::size_t>(j)];
      stats.reward += rb.total[static_cast<std::size_t>(j)];
      for (std::size_t d = 0; d < D; ++d) stats.reward_dims[d] += rb.values[d * static_cast<std::size_t>(G) + j];
      const Completion& c = group[static_cast<std::size_t>(j)];
      stats.response_tokens += static_cast<double>(c.tokens);
      stats.truncated += c.truncated ? 1.0 : 0.0;
    }
    // coherence > 0 iff the line parses as a sample (task_reward_scorers.h).
    for (std::size_t d = 0; d < D; ++d)
      if (reward_.name(d) == "coherence")
        for (double v : rb.dimension(d)) stats.well_formed += v > 0 ? 1.0 : 0.0;
  }

  PackedRollouts batch = pack_rollouts(prompts, samples, ctx_.cfg.model.seq_len);
  score_batch(batch, minibatch_rows(), rt);
  const std::int64_t n_tok = batch.action_tokens();
  for (std::int64_t k = 0; k < n_tok; ++k) {
    stats.kl_k3 += kl_k3(rt.old_lp[k], rt.ref_lp[k]);
    stats.kl_k1 += kl_k1(rt.old_lp[k], rt.ref_lp[k]);
    stats.entropy += rt.entropy[k];
  }
  stats.action_tokens = static_cast<double>(n_tok);
  return batch;
}

std::vector<double> AlignmentPhase::compute_advantages(const PackedRollouts& batch, RolloutTensors& rt) {
  const std::int64_t G = a_.samples_per_prompt, rows = local_rows(), M = a_.minibatches, mb_rows = minibatch_rows();
  Moments moments;
  if (is_ppo()) {
    const double beta = kl_.beta();
    rt.advantages.assign(static_cast<std::size_t>(batch.action_tokens()), 0.0f);
    rt.returns = rt.advantages;
    std::vector<float> rewards;
    for (std::int64_t r = 0; r < rows; ++r) {
      const auto b = static_cast<std::size_t>(batch.offsets[r]), e = static_cast<std::size_t>(batch.offsets[r + 1]);
      rewards.assign(e - b, 0.0f);
      kl_shaped_rewards(std::span<const float>(rt.old_lp.data() + b, e - b),
                        std::span<const float>(rt.ref_lp.data() + b, e - b), kl_in_loss_ ? 0.0 : beta,
                        rt.seq_reward[static_cast<std::size_t>(r)], rewards, estimator_);
      compute_gae(rewards, std::span<const float>(rt.values.data() + b, e - b), GaeParams{a_.gamma, a_.lambda},
                  std::span<float>(rt.advantages.data() + b, e - b), std::span<float>(rt.returns.data() + b, e - b));
    }
    moments.add(rt.advantages);
  } else {
    rt.sample_adv.assign(static_cast<std::size_t>(rows), 0.0);
    for (std::int64_t i = 0; i < local_prompts(); ++i)
      grpo_advantages(std::span<const double>(rt.seq_reward.data() + i * G, static_cast<std::size_t>(G)),
                      std::span<double>(rt.sample_adv.data() + i * G, static_cast<std::size_t>(G)));
  }

  // Global counts: every loss is a mean over the whole step's minibatch on
  // every rank (ppo: tokens; grpo: samples). One reduction: the M token
  // counts, then the advantages' moments.
  std::vector<double> global_counts;
  for (std::int64_t m = 0; m < M; ++m)
    global_counts.push_back(static_cast<double>(batch.offsets[(m + 1) * mb_rows] - batch.offsets[m * mb_rows]));
  const auto mp = moments.packed();
  global_counts.insert(global_counts.end(), mp.begin(), mp.end());
  sum_over_dp(ctx_.ranks, ctx_.be, global_counts);
  if (is_ppo() && a_.whiten_advantages)
    whiten(rt.advantages, Moments::unpacked({global_counts[M], global_counts[M + 1], global_counts[M + 2]}));
  global_counts.resize(static_cast<std::size_t>(M));
  return global_counts;
}

void AlignmentPhase::run_updates(const PackedRollouts& batch, const RolloutTensors& rt,
                                 const std::vector<double>& token_counts, float lr, AlignmentStepStats& stats) {
  const std::int64_t mb_rows = minibatch_rows();
  const double samples = static_cast<double>(mb_rows * ctx_.ranks.dp_size());
  for (std::int64_t epoch = 0; epoch < a_.epochs; ++epoch)
    for (std::int64_t m = 0; m < a_.minibatches; ++m)
      update(batch, rt, m * mb_rows, mb_rows, token_counts[static_cast<std::size_t>(m)], samples, lr, stats);
}

StepResult AlignmentPhase::step(const StepInput& in) {
  GPT& model = ctx_.model;
  const bool ceiling = a_.kl_ceiling > 0;
  const bool rollback = a_.kl_ceiling_action == "rollback";
  RolloutTensors rt;
  AlignmentStepStats stats;
  const PackedRollouts batch = rollout_and_score(in.global, rt, stats);
  const std::vector<double> token_counts = compute_advantages(batch, rt);
  const double beta = kl_.beta();

  // Rollback keeps the weights from before this step's updates.
  Tensor saved_policy, saved_head, saved_critic;
  if (ceiling && rollback) {
    saved_policy = ctx_.be.clone(model.parameters().values());
    if (head_) saved_head = ctx_.be.clone(head_store_.values());
    if (critic_) saved_critic = ctx_.be.clone(critic_->parameters().values());
  }
  run_updates(batch, rt, token_counts, in.lr, stats);
  if (ceiling) stats.kl_after = kl_sum_now(batch, minibatch_rows(), rt);

  sum_over_dp(ctx_.ranks, ctx_.be, stats);
  const double n_samples = global_samples();
  const double kl = stats.kl_k3 / stats.action_tokens;
  const double kl_after = stats.kl_after / stats.action_tokens;
  kl_.update(kl, static_cast<std::int64_t>(n_samples));
  if (summary_[2] < 0) summary_[2] = stats.reward / n_samples;

  // The KL ceiling ends the phase (after this step's update, or rolled back
  // to before it); the phase counts as done, so its boundary checkpoint is
  // stamped at the phase's last step.
  const bool ceiling_hit = ceiling && kl_after > a_.kl_ceiling;
  if (ceiling_hit) {
    if (rollback) {
      ctx_.be.copy(model.parameters().values(), saved_policy);
      if (head_) ctx_.be.copy(head_store_.values(), saved_head);
      if (critic_) ctx_.be.copy(critic_->parameters().values(), saved_critic);
    }
    ctx_.services.print(fmt::format(
        "{}: KL {:.4f} after step {} exceeds kl_ceiling {}: {}; the phase ends here (its remaining {} steps are "
        "skipped)",
        ctx_.phase.name(), kl_after, in.global + 1, a_.kl_ceiling,
        rollback ? "the step's update is rolled back" : "the step's update is kept", ctx_.phase.steps - in.step - 1));
  }
  step_ = StepState{stats, beta, ceiling_hit};
  StepResult r;
  r.loss = stats.policy_loss / static_cast<double>(a_.epochs * a_.minibatches);
  r.tokens = stats.action_tokens;
  r.ends_phase = ceiling_hit;
  return r;
}

StepReport AlignmentPhase::report(const StepInput& in, const StepTiming& timing, const EvalResult* eval, bool last) {
  const AlignmentStepStats& s = step_.stats;
  const std::size_t D = reward_.size();
  const double n_samples = global_samples(), tokens = s.action_tokens;
  const double updates = static_cast<double>(a_.epochs * a_.minibatches);
  const double mean_reward = s.reward / n_samples;
  const double kl = s.kl_k3 / tokens;
  const double kl_after = s.kl_after / tokens;
  const double policy_loss = s.policy_loss / updates;
  const bool ceiling = a_.kl_ceiling > 0;
  StepReport out;
  nlohmann::json& line = out.line;
  line = {{"policy_loss", policy_loss},
          {"reward", mean_reward},
          {"rollout_accuracy", 0.0},
          {"rollout_well_formed", s.well_formed / n_samples},
          {"response_length", s.response_tokens / n_samples},
          {"truncated_fraction", s.truncated / n_samples},
          {"kl", kl},
          {"kl_k1", s.kl_k1 / tokens},
          {"kl_coef", step_.beta},
          {"entropy", s.entropy / tokens},
          {"clip_fraction", s.clipped / s.update_tokens},
          {"approx_kl", s.approx_kl / s.update_tokens},
          {"step_s", timing.seconds}};
  for (std::size_t d = 0; d < D; ++d) {
    line[fmt::format("reward_{}", reward_.name(d))] = s.reward_dims[d] / n_samples;
    if (reward_.name(d) == "accuracy") line["rollout_accuracy"] = s.reward_dims[d] / n_samples;
  }
  if (is_ppo()) {
    line["value_loss"] = s.value_loss / updates;
    line["value_clip_fraction"] = s.value_clipped / s.update_tokens;
  }
  if (kl_in_loss_) line["kl_loss"] = s.loss_kl / updates;
  if (ceiling) line["kl_after"] = kl_after;
  if (step_.ceiling_hit) {
    line["kl_ceiling_hit"] = true;
    line["kl_ceiling_action"] = a_.kl_ceiling_action;
  }
  std::string held_out_summary;
  if (last && !held_out_before_.empty()) {
    const HeldOutReward h = held_out_reward();
    line["held_out_reward_before"] = held_out_before_[0];
    line["held_out_reward"] = h.total;
    for (std::size_t d = 0; d < D; ++d) {
      line[fmt::format("held_out_reward_{}_before", h.names[d])] = held_out_before_[d + 1];
      line[fmt::format("held_out_reward_{}", h.names[d])] = h.dimensions[d];
    }
    held_out_summary =
        fmt::format(", held-out reward {:.4f} -> {:.4f} ({} prompts)", held_out_before_[0], h.total, h.prompts);
  }
  out.progress = fmt::format(
      "step {:>5}/{} | {} | reward {:.3f} | accuracy {:.2f} | kl {:.4f} | beta {:.4f} | len {:.1f} | policy_loss "
      "{:.4f}{} | {:.2f} s/step | ETA {:.0f}s",
      in.global + 1, ctx_.total_steps, kind(), mean_reward, line["rollout_accuracy"].get<double>(), kl, step_.beta,
      s.response_tokens / n_samples, policy_loss,
      is_ppo() ? fmt::format(" | value_loss {:.4f}", line["value_loss"].get<double>()) : std::string(), timing.seconds,
      timing.eta_s);
  if (last) {
    POUCH_CHECK(eval != nullptr, "the last alignment step without its evaluation");
    out.summary = fmt::format(
        "held-out accuracy {:.1f}% -> {:.1f}%, well-formed {:.1f}% -> {:.1f}%, mean reward {:.3f} "
        "(first step) -> {:.3f} (last step){}, final KL {:.4f}{}",
        100.0 * summary_[0], 100.0 * overall_accuracy(eval->levels), 100.0 * summary_[1],
        100.0 * format_fraction(eval->levels), summary_[2], mean_reward, held_out_summary, ceiling ? kl_after : kl,
        step_.ceiling_hit ? fmt::format(" (stopped by kl_ceiling at step {})", in.global + 1) : std::string());
    out.after.push_back(fmt::format("{} summary: {}", ctx_.phase.name(), out.summary));
  }
  return out;
}

PhaseOutcome AlignmentPhase::run(std::int64_t first_step) {
  const RunConfig& cfg = ctx_.cfg;
  ctx_.model.set_recompute(cfg.train.recompute);
  if (critic_) critic_->set_recompute(cfg.train.recompute);
  policy_dp_ = make_dp_reducer(ctx_, ctx_.model.parameters(), nullptr);
  if (head_) head_dp_ = make_dp_reducer(ctx_, head_store_, nullptr);
  if (critic_) critic_dp_ = make_dp_reducer(ctx_, critic_->parameters(), nullptr);

  const std::int64_t B_eval = std::max<std::int64_t>(1, cfg.train.batch_size / ctx_.ranks.dp_size());
  const Tensor ex = Tensor::empty({B_eval, cfg.model.seq_len}, DType::I32);  // host: GPT::forward copies up
  const Tensor ey = Tensor::empty({B_eval, cfg.model.seq_len}, DType::I32);
  if (first_step == 0) evaluate_start(ex, ey);

  PhaseLoopHooks hooks;
  hooks.step = [this](const StepInput& in) { return step(in); };
  hooks.evaluate = [&](std::int64_t global_step) -> const EvalResult& { return ctx_.record_eval(global_step, ex, ey); };
  hooks.report = [this](const StepInput& in, const StepResult&, const StepTiming& timing, const EvalResult* eval,
                        bool last) { return report(in, timing, eval, last); };
  hooks.capture = [this](std::int64_t in_phase_steps) { return capture(in_phase_steps); };
  return run_phase_steps(ctx_, first_step, hooks);
}
}  // namespace

std::unique_ptr<Phase> make_alignment_phase(const PhaseContext& ctx) { return std::make_unique<AlignmentPhase>(ctx); }

}  // namespace pouch
