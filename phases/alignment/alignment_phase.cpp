#include "phases/alignment/alignment_phase.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <type_traits>

#include <fmt/format.h>

#include "model/value_head.h"
#include "parallel/uniform_error.h"
#include "phases/schedule/fault_injection.h"
#include "phases/alignment/grpo_math.h"
#include "phases/alignment/held_out_reward.h"
#include "phases/alignment/ppo_math.h"
#include "phases/alignment/rollout.h"
#include "phases/schedule/run_state.h"
#include "phases/alignment/task_reward_scorers.h"
#include "runtime/adamw_optimizer.h"
#include "runtime/log.h"
#include "runtime/stopwatch.h"

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

// Sums a flat gradient buffer over the data-parallel group (the losses are
// global means, so the sum is the batch gradient).
void all_reduce_grads(const TrainRanks& ranks, const ParameterStore& store) {
  if (ranks.dp_size() > 1) ranks.dp->all_reduce(store.grads(), ReduceOp::Sum);
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
  PhaseOutcome run(std::int64_t first_step) override;

 private:
  // One minibatch update; adds its stats to `sums` (see run()).
  void update(const PackedRollouts& batch, const RolloutTensors& rt, std::int64_t row0, std::int64_t nrows,
              double token_count, double sample_count, float lr, std::vector<double>& sums);
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
  Tensor hidden_grad_, dvalues_, values_buf_, weights_;
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
  if (!a_.kl_estimator.empty()) estimator_ = parse_kl_estimator(a_.kl_estimator, prefix + "kl_estimator");
  else estimator_ = grpo_ ? KlEstimator::K3 : KlEstimator::K1;
  // GRPO's KL is always a loss term; PPO's is a reward penalty with k1 and a
  // loss term with k3 (k3 as a per-token reward would bias the return).
  kl_in_loss_ = grpo_ || estimator_ == KlEstimator::K3;

  // The reference is the policy at the phase start (restore() overwrites it
  // with the checkpoint's on a resume inside the phase).
  ref_.parameters().values().copy_from(ctx.model.parameters().values());
  if (is_ppo()) {
    if (a_.value_head == "separate") {
      critic_ = std::make_unique<GPT>(ctx.cfg.model, ctx.be, TensorParallelGroup(ctx.ranks.tp));
      critic_->parameters().values().copy_from(ctx.model.parameters().values());
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
  CheckpointState s = capture_run_state(ctx_.model, optimizer_, RunPosition{global, 0, 0}, 1, 1, "");
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
  s.phase = phase_tensors();  // views: read straight into the live buffers
  ReadOptions options;
  options.rank = rank;
  options.verify = false;
  options.optim = false;
  read_checkpoint_file(file, s, options);
  auto row = [&](const auto& map, const char* key, std::size_t n) {
    const auto it = map.find(key);
    if (it == map.end() || it->second.size() != n)
      fail("{}: /data{}/{} is missing or has the wrong length; the checkpoint was not written by this {} phase",
           file, std::is_same_v<std::decay_t<decltype(it->second[0])>, double> ? "_f64" : "", key, kind());
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
  gather_actions(batch, row0, nrows, values_buf_.f32(), 1.0f, out);
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
    model.forward(x, y);
    gather_actions(batch, r0, chunk_rows, model.token_losses().f32(), -1.0f, span_of(rt.old_lp));
    gather_actions(batch, r0, chunk_rows, model.token_entropy().f32(), 1.0f, span_of(rt.entropy));
    if (head_ && !critic_) values_of(model, batch, r0, chunk_rows, span_of(rt.values));
    ref_.forward(x, y);
    gather_actions(batch, r0, chunk_rows, ref_.token_losses().f32(), -1.0f, span_of(rt.ref_lp));
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
    ctx_.model.forward(batch.tokens.view(r0 * T, {chunk_rows, T}), batch.targets.view(r0 * T, {chunk_rows, T}));
    gather_actions(batch, r0, chunk_rows, ctx_.model.token_losses().f32(), -1.0f, lp);
    for (std::int64_t k = b; k < e; ++k) sum += kl_k3(lp[static_cast<std::size_t>(k - b)], rt.ref_lp[k]);
  }
  return sum;
}

// Indices of `sums` (summed over dp, then over the step's updates).
enum UpdateSum { kPolicyLoss, kValueLoss, kClipped, kValueClipped, kApproxKl, kUpdateTokens, kLossKl, kNumUpdateSums };

void AlignmentPhase::update(const PackedRollouts& batch, const RolloutTensors& rt, std::int64_t row0,
                            std::int64_t nrows, double token_count, double sample_count, float lr,
                            std::vector<double>& sums) {
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

  // The current log-probs first: the per-token weights of forward_weighted
  // are -dL/dlogprob, which depend on them (the ratio).
  std::vector<float> lp(n), grad(n, 0.0f);
  model.forward(x, y);
  gather_actions(batch, row0, nrows, model.token_losses().f32(), -1.0f, lp);
  const double beta = kl_.beta();
  if (is_ppo()) {
    const PolicyLossResult pl = clipped_policy_loss(lp, part(rt.old_lp), part(rt.advantages), a_.clip_eps,
                                                    token_count, grad);
    sums[kPolicyLoss] += pl.loss;
    sums[kClipped] += static_cast<double>(pl.clipped);
    sums[kApproxKl] += pl.approx_kl_sum;
    if (kl_in_loss_) {
      // + (beta / N) sum_t k_t: the KL term in the loss instead of the reward.
      const auto ref = part(rt.ref_lp);
      double kl = 0.0;
      for (std::size_t k = 0; k < n; ++k) {
        kl += kl_estimate(estimator_, lp[k], ref[k]);
        grad[k] += static_cast<float>(beta * kl_estimate_grad(estimator_, lp[k], ref[k]) / token_count);
      }
      sums[kLossKl] += beta * kl / token_count;
      sums[kPolicyLoss] += beta * kl / token_count;
    }
  } else {
    std::vector<std::int64_t> offsets;
    for (std::int64_t r = row0; r <= row0 + nrows; ++r)
      offsets.push_back(batch.offsets[static_cast<std::size_t>(r)] - static_cast<std::int64_t>(b));
    const std::span<const double> adv(rt.sample_adv.data() + row0, static_cast<std::size_t>(nrows));
    const GrpoLossResult gl = grpo_loss(lp, part(rt.old_lp), part(rt.ref_lp), offsets, adv, a_.clip_eps, beta,
                                        sample_count, grad, estimator_);
    sums[kPolicyLoss] += gl.loss;
    sums[kClipped] += static_cast<double>(gl.clipped);
    // The KL term's share of the loss: beta * sum_i (1 / (S |o_i|)) sum_t k_t,
    // the normalisation grpo_loss uses, so it adds up over minibatches and ranks.
    const auto ref = part(rt.ref_lp);
    for (std::size_t i = 0; i + 1 < offsets.size(); ++i) {
      double kl = 0.0;
      for (auto k = offsets[i]; k < offsets[i + 1]; ++k)
        kl += kl_estimate(estimator_, lp[static_cast<std::size_t>(k)], ref[static_cast<std::size_t>(k)]);
      const auto len = std::max<std::int64_t>(1, offsets[i + 1] - offsets[i]);
      sums[kLossKl] += beta * kl / (sample_count * static_cast<double>(len));
    }
    // approx KL of pi_old vs pi at pi_old's samples, as clipped_policy_loss
    // reports it: E[(r - 1) - log r], r = pi / pi_old.
    const auto old = part(rt.old_lp);
    for (std::size_t k = 0; k < n; ++k) sums[kApproxKl] += kl_k3(old[k], lp[k]);
  }
  sums[kUpdateTokens] += static_cast<double>(n);

  ensure_shape(be, weights_, {nrows, T}, DType::F32);
  weights_.zero_();
  float* w = weights_.f32();
  for (std::size_t k = 0; k < n; ++k) w[batch.positions[b + k] - row0 * T] = -grad[k];
  model.forward_weighted(x, y, weights_);

  if (head_) {
    GPT& trunk = critic_ ? *critic_ : model;
    if (critic_) trunk.forward_hidden(x);
    std::vector<float> v(n), dv(n);
    values_of(trunk, batch, row0, nrows, v);
    const ValueLossResult vl =
        clipped_value_loss(v, part(rt.values), part(rt.returns), a_.value_clip, token_count, dv);
    sums[kValueLoss] += vl.loss;
    sums[kValueClipped] += static_cast<double>(vl.clipped);
    // Shared trunk: L = L_policy + vf_coef L_value; a critic of its own has
    // its own optimizer, so its loss needs no weight.
    const float coef = critic_ ? 1.0f : static_cast<float>(a_.vf_coef);
    ensure_shape(be, dvalues_, {N}, DType::F32);
    dvalues_.zero_();
    for (std::size_t k = 0; k < n; ++k) dvalues_.f32()[batch.positions[b + k] - row0 * T] = coef * dv[k];
    ensure_shape(be, hidden_grad_, {N, C}, DType::F32);
    hidden_grad_.zero_();
    head_->backward(be, dvalues_, trunk.final_hidden().reshape({N, C}), hidden_grad_);
    trunk.add_final_hidden_grad(hidden_grad_);
    if (critic_) critic_->backward();
  }
  model.backward();

  all_reduce_grads(ctx_.ranks, model.parameters());
  optimizer_.step(lr, model.grad_norm());
  if (head_) {
    all_reduce_grads(ctx_.ranks, head_store_);
    head_optim_->step(lr);  // replicated: its local norm is the global one
  }
  if (critic_) {
    all_reduce_grads(ctx_.ranks, critic_->parameters());
    critic_optim_->step(lr, critic_->grad_norm());
  }
}

PhaseOutcome AlignmentPhase::run(std::int64_t first_step) {
  const RunConfig& cfg = ctx_.cfg;
  GPT& model = ctx_.model;
  Backend& be = ctx_.be;
  const TrainRanks& ranks = ctx_.ranks;
  RunServices& services = ctx_.services;
  const CharTokenizer& tok = *ctx_.data.task_tokenizer;
  const std::int64_t steps = ctx_.phase.steps, T = cfg.model.seq_len, G = a_.samples_per_prompt;
  const std::int64_t dp = ranks.dp_size(), P_local = a_.prompts_per_step / dp;
  const std::int64_t rows = P_local * G, M = a_.minibatches, mb_rows = rows / M;
  const int min_level = static_cast<int>(a_.prompt_min_level);
  const int max_level = static_cast<int>(a_.prompt_max_level > 0 ? a_.prompt_max_level : cfg.data.task_max_level);
  model.set_recompute(cfg.train.recompute);
  if (critic_) critic_->set_recompute(cfg.train.recompute);
  const std::size_t D = reward_.size();

  RolloutOptions ro;
  ro.samples_per_prompt = G;
  ro.max_new_tokens = a_.max_new_tokens;
  ro.temperature = static_cast<float>(a_.temperature);
  ro.top_p = static_cast<float>(a_.top_p);
  ro.seed = cfg.train.seed;

  PhaseOutcome out;
  out.steps_done = first_step;
  const std::int64_t B_eval = std::max<std::int64_t>(1, cfg.train.batch_size / dp);
  const Tensor ex = be.empty({B_eval, T}, DType::I32), ey = be.empty({B_eval, T}, DType::I32);
  auto record_eval = [&](std::int64_t global_step) -> const EvalResult& {
    ctx_.evals->push_back(evaluate(model, ctx_.data, cfg, ranks, global_step, ex, ey));
    return ctx_.evals->back();
  };
  auto held_out_reward = [&] {
    return evaluate_held_out_reward(model, tok, reward_, ro, min_level, max_level, a_.reward_eval_prompts, ranks);
  };
  if (first_step == 0) {
    const EvalResult& e = record_eval(ctx_.step_offset);
    summary_[0] = overall_accuracy(e.levels);
    summary_[1] = format_fraction(e.levels);
    services.print(format_eval(e));
    if (a_.reward_eval_prompts > 0) {
      const HeldOutReward h = held_out_reward();
      held_out_before_ = {h.total};
      held_out_before_.insert(held_out_before_.end(), h.dimensions.begin(), h.dimensions.end());
      services.print(fmt::format("{}: held-out reward {:.4f} ({} prompts x {} samples, levels {}-{})",
                                 ctx_.phase.name(), h.total, h.prompts, G, min_level, max_level));
    }
  }
  const std::int64_t eval_every = ctx_.eval_every();
  const auto fault = fault_plan_from_env();
  const bool ceiling = a_.kl_ceiling > 0;
  const bool rollback = a_.kl_ceiling_action == "rollback";
  double avg_step = 0.0, last_reward = 0.0, last_kl = 0.0;

  for (std::int64_t step = first_step; step < steps; ++step) {
    const std::int64_t global = ctx_.step_offset + step;
    maybe_inject_fault(fault, ranks.world_rank, global + 1);
    const auto t0 = Clock::now();
    const float lr = lr_at(optim_cfg_, step, steps);

    // 1-3. prompts, rollouts, rewards.
    const std::vector<RolloutPrompt> prompts =
        draw_prompts(tok, global * a_.prompts_per_step + ranks.dp_rank() * P_local, P_local, min_level, max_level,
                     cfg.train.seed);
    const std::vector<RolloutSample> samples = generate_rollouts(model, tok, prompts, ro);
    RolloutTensors rt;
    rt.seq_reward.assign(static_cast<std::size_t>(rows), 0.0);
    // Step sums over this rank, then over dp: reward, each dimension, and
    // the rollout statistics (see the metrics below).
    std::vector<double> rsum(D + 4, 0.0);  // dims..., total, length, truncated, well-formed
    std::vector<Completion> group(static_cast<std::size_t>(G));
    for (std::int64_t i = 0; i < P_local; ++i) {
      for (std::int64_t j = 0; j < G; ++j)
        group[static_cast<std::size_t>(j)] = samples[static_cast<std::size_t>(i * G + j)].completion;
      const RewardBreakdown rb = reward_.score(group);
      for (std::int64_t j = 0; j < G; ++j) {
        rt.seq_reward[static_cast<std::size_t>(i * G + j)] = rb.total[static_cast<std::size_t>(j)];
        rsum[D] += rb.total[static_cast<std::size_t>(j)];
        for (std::size_t d = 0; d < D; ++d) rsum[d] += rb.values[d * static_cast<std::size_t>(G) + j];
        const Completion& c = group[static_cast<std::size_t>(j)];
        rsum[D + 1] += static_cast<double>(c.tokens);
        rsum[D + 2] += c.truncated ? 1.0 : 0.0;
      }
      // coherence > 0 iff the line parses as a sample (task_reward_scorers.h).
      for (std::size_t d = 0; d < D; ++d)
        if (reward_.name(d) == "coherence")
          for (double v : rb.dimension(d)) rsum[D + 3] += v > 0 ? 1.0 : 0.0;
    }

    // 4. log-probs, values.
    const PackedRollouts batch = pack_rollouts(be, prompts, samples, T);
    score_batch(batch, mb_rows, rt);
    const std::int64_t n_tok = batch.action_tokens();

    // KL of the rollout policy vs the reference and the entropy, per token.
    double kl3 = 0.0, kl1 = 0.0, ent = 0.0;
    for (std::int64_t k = 0; k < n_tok; ++k) {
      kl3 += kl_k3(rt.old_lp[k], rt.ref_lp[k]);
      kl1 += kl_k1(rt.old_lp[k], rt.ref_lp[k]);
      ent += rt.entropy[k];
    }

    // 5. advantages.
    const double beta = kl_.beta();
    Moments moments;
    if (is_ppo()) {
      rt.advantages.assign(static_cast<std::size_t>(n_tok), 0.0f);
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
      for (std::int64_t i = 0; i < P_local; ++i)
        grpo_advantages(std::span<const double>(rt.seq_reward.data() + i * G, static_cast<std::size_t>(G)),
                        std::span<double>(rt.sample_adv.data() + i * G, static_cast<std::size_t>(G)));
    }

    // Global counts: every loss is a mean over the whole step's minibatch
    // on every rank (ppo: tokens; grpo: samples).
    std::vector<double> global_counts;
    for (std::int64_t m = 0; m < M; ++m)
      global_counts.push_back(static_cast<double>(batch.offsets[(m + 1) * mb_rows] - batch.offsets[m * mb_rows]));
    const auto mp = moments.packed();
    global_counts.insert(global_counts.end(), mp.begin(), mp.end());
    sum_over_dp(ranks, be, global_counts);
    if (is_ppo() && a_.whiten_advantages)
      whiten(rt.advantages, Moments::unpacked({global_counts[M], global_counts[M + 1], global_counts[M + 2]}));

    // Rollback keeps the weights from before this step's updates.
    Tensor saved_policy, saved_head, saved_critic;
    if (ceiling && rollback) {
      saved_policy = model.parameters().values().clone();
      if (head_) saved_head = head_store_.values().clone();
      if (critic_) saved_critic = critic_->parameters().values().clone();
    }

    // 6. updates.
    std::vector<double> usum(kNumUpdateSums, 0.0);
    for (std::int64_t epoch = 0; epoch < a_.epochs; ++epoch)
      for (std::int64_t m = 0; m < M; ++m)
        update(batch, rt, m * mb_rows, mb_rows, global_counts[static_cast<std::size_t>(m)],
               static_cast<double>(mb_rows * dp), lr, usum);

    double kl_after_sum = ceiling ? kl_sum_now(batch, mb_rows, rt) : 0.0;

    // Everything over dp in one reduction.
    std::vector<double> all = rsum;
    all.insert(all.end(), usum.begin(), usum.end());
    all.insert(all.end(), {kl3, kl1, ent, static_cast<double>(n_tok), kl_after_sum});
    sum_over_dp(ranks, be, all);
    const double n_samples = static_cast<double>(rows * dp);
    const std::size_t U = D + 4, X = U + kNumUpdateSums;
    const double tokens = all[X + 3];
    const double updates = static_cast<double>(a_.epochs * M);
    const double mean_reward = all[D] / n_samples;
    const double kl = all[X] / tokens;
    const double kl_after = all[X + 4] / tokens;
    kl_.update(kl, static_cast<std::int64_t>(n_samples));
    if (summary_[2] < 0) summary_[2] = mean_reward;
    last_reward = mean_reward;
    last_kl = ceiling ? kl_after : kl;

    const double dt = seconds_since(t0);
    out.train_seconds += dt;
    out.tokens += tokens;
    avg_step = step == first_step ? dt : 0.9 * avg_step + 0.1 * dt;
    const double policy_loss = all[U + kPolicyLoss] / updates;
    nlohmann::json line = {{"step", global + 1},
                           {"phase", ctx_.phase.index},
                           {"phase_kind", kind()},
                           {"loss", policy_loss},
                           {"policy_loss", policy_loss},
                           {"lr", lr},
                           {"reward", mean_reward},
                           {"rollout_accuracy", 0.0},
                           {"rollout_well_formed", all[D + 3] / n_samples},
                           {"response_length", all[D + 1] / n_samples},
                           {"truncated_fraction", all[D + 2] / n_samples},
                           {"kl", kl},
                           {"kl_k1", all[X + 1] / tokens},
                           {"kl_coef", beta},
                           {"entropy", all[X + 2] / tokens},
                           {"clip_fraction", all[U + kClipped] / all[U + kUpdateTokens]},
                           {"approx_kl", all[U + kApproxKl] / all[U + kUpdateTokens]},
                           {"step_s", dt}};
    for (std::size_t d = 0; d < D; ++d) {
      line[fmt::format("reward_{}", reward_.name(d))] = all[d] / n_samples;
      if (reward_.name(d) == "accuracy") line["rollout_accuracy"] = all[d] / n_samples;
    }
    if (is_ppo()) {
      line["value_loss"] = all[U + kValueLoss] / updates;
      line["value_clip_fraction"] = all[U + kValueClipped] / all[U + kUpdateTokens];
    }
    if (kl_in_loss_) line["kl_loss"] = all[U + kLossKl] / updates;
    if (ceiling) line["kl_after"] = kl_after;

    // The KL ceiling ends the phase (after this step's update, or rolled back
    // to before it); the phase counts as done, so its boundary checkpoint is
    // stamped at the phase's last step.
    bool ceiling_hit = ceiling && kl_after > a_.kl_ceiling;
    if (ceiling_hit) {
      if (rollback) {
        model.parameters().values().copy_from(saved_policy);
        if (head_) head_store_.values().copy_from(saved_head);
        if (critic_) critic_->parameters().values().copy_from(saved_critic);
      }
      line["kl_ceiling_hit"] = true;
      line["kl_ceiling_action"] = a_.kl_ceiling_action;
      services.print(fmt::format(
          "{}: KL {:.4f} after step {} exceeds kl_ceiling {}: {}; the phase ends here (its remaining {} steps are "
          "skipped)",
          ctx_.phase.name(), kl_after, global + 1, a_.kl_ceiling,
          rollback ? "the step's update is rolled back" : "the step's update is kept", steps - step - 1));
    }
    const bool last = step + 1 == steps || ceiling_hit;
    const bool eval_now = last || (eval_every > 0 && (step + 1) % eval_every == 0);
    if (eval_now) add_eval_fields(line, record_eval(global + 1));
    std::string held_out_summary;
    if (last && !held_out_before_.empty()) {
      const HeldOutReward h = held_out_reward();
      line["held_out_reward_before"] = held_out_before_[0];
      line["held_out_reward"] = h.total;
      for (std::size_t d = 0; d < D; ++d) {
        line[fmt::format("held_out_reward_{}_before", h.names[d])] = held_out_before_[d + 1];
        line[fmt::format("held_out_reward_{}", h.names[d])] = h.dimensions[d];
      }
      held_out_summary = fmt::format(", held-out reward {:.4f} -> {:.4f} ({} prompts)", held_out_before_[0], h.total,
                                     h.prompts);
    }
    out.final_loss = policy_loss;
    const std::int64_t done = ceiling_hit ? steps : step + 1;
    out.steps_done = done;
    const int stop =
        services.end_step(ctx_.step_offset + done, last, line, [&] { return capture(done); });
    if ((step + 1) % cfg.log.every == 0 || last || step == first_step)
      services.print(fmt::format("step {:>5}/{} | {} | reward {:.3f} | accuracy {:.2f} | kl {:.4f} | beta {:.4f} | "
                                 "len {:.1f} | policy_loss {:.4f}{} | {:.2f} s/step | ETA {:.0f}s",
                                 global + 1, ctx_.total_steps, kind(), mean_reward,
                                 line["rollout_accuracy"].get<double>(), kl, beta, all[D + 1] / n_samples,
                                 policy_loss,
                                 is_ppo() ? fmt::format(" | value_loss {:.4f}", line["value_loss"].get<double>())
                                          : std::string(),
                                 dt, avg_step * static_cast<double>(steps - step - 1)));
    if (eval_now) services.print(format_eval(ctx_.evals->back()));
    if (last) {
      const EvalResult& e = ctx_.evals->back();
      out.summary = fmt::format(
          "held-out accuracy {:.1f}% -> {:.1f}%, well-formed {:.1f}% -> {:.1f}%, mean reward {:.3f} "
          "(first step) -> {:.3f} (last step){}, final KL {:.4f}{}",
          100.0 * summary_[0], 100.0 * overall_accuracy(e.levels), 100.0 * summary_[1],
          100.0 * format_fraction(e.levels), summary_[2], last_reward, held_out_summary, last_kl,
          ceiling_hit ? fmt::format(" (stopped by kl_ceiling at step {})", global + 1) : std::string());
      services.print(fmt::format("{} summary: {}", ctx_.phase.name(), out.summary));
      break;
    }
    if (stop != 0) {
      out.stopped_by_signal = stop;
      break;
    }
  }
  return out;
}

}  // namespace

std::unique_ptr<Phase> make_alignment_phase(const PhaseContext& ctx) { return std::make_unique<AlignmentPhase>(ctx); }

}  // namespace pouch
