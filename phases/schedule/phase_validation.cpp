#include "phases/schedule/phase_validation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "data/arith_problem.h"
#include "data/char_tokenizer.h"
#include "data/curriculum.h"
#include "data/source_weight_rules.h"
#include "data/watched_directory.h"
#include "parallel/uniform_error.h"
#include "phases/alignment/task_reward_scorers.h"
#include "phases/schedule/phase_keys.h"

namespace pouch {

namespace {

constexpr std::string_view kLoraTargets = "qkv, attn_proj, fc, mlp_proj";

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  return std::string(s.substr(b, s.find_last_not_of(" \t\r") - b + 1));
}

// "1, 2, 4, 8": the divisors of n, for "choose one of" hints.
std::string divisors_of(std::int64_t n) {
  std::string out;
  for (std::int64_t d = 1; d <= n; ++d)
    if (n % d == 0) out += fmt::format("{}{}", out.empty() ? "" : ", ", d);
  return out;
}

// The rules of one phase, each failing with the key, its value, where it was
// set and the fix.
class PhaseRules {
 public:
  PhaseRules(const PhaseConfig& p, const RunConfig& c, const ConfigOrigins& o) : p_(p), c_(c), o_(o) {}

  std::string key(std::string_view k) const { return fmt::format("phase.{}.{}", p_.index, k); }
  // "phase.2.minibatches = 3 (set on the command line as --phase.2.minibatches)"
  template <typename V>
  std::string named(std::string_view k, const V& value) const {
    return fmt::format("{} = {} ({})", key(k), value, o_.describe(key(k)));
  }
  // "data.task_max_level = 5 (set in run.ini:7)"
  template <typename V>
  std::string run_key(std::string_view k, const V& value) const {
    return fmt::format("{} = {} ({})", k, value, o_.describe(k));
  }

  template <typename V>
  void require(bool ok, std::string_view k, const V& value, std::string_view rule) const {
    if (!ok) fail_uniform("{}: {}", named(k, value), rule);
  }

  // Runs a builder of data/ or phases/ that throws pouch::Error naming the
  // key (a grammar such as source_weights'), adding where `keys` were set.
  template <typename F>
  void builds(std::initializer_list<std::string_view> keys, F&& build) const {
    try {
      build();
    } catch (const UniformError&) {
      throw;
    } catch (const Error& e) {
      std::string where;
      for (auto k : keys)
        if (o_.has(key(k))) where += fmt::format("{}{} {}", where.empty() ? "" : "; ", key(k), o_.describe(key(k)));
      if (where.empty()) throw UniformError(e.what());
      fail_uniform("{} ({})", e.what(), where);
    }
  }

  void common() const;
  void pretrain(const ValidationScope& scope, bool will_run) const;
  void alignment(const ValidationScope& scope, bool will_run) const;
  void continual(const ValidationScope& scope, bool will_run) const;
  // watch_dir's keys; the directory must exist when the phase will run.
  void watch(bool will_run) const;
  // new_level: a level of the built-in task that pre-training did not see.
  void new_level() const;
  // train.batch_size splits evenly over the data-parallel ranks (pretrain, continual).
  void batch_splits(int dp) const;

 private:
  const PhaseConfig& p_;
  const RunConfig& c_;
  const ConfigOrigins& o_;
};

void PhaseRules::common() const {
  require(p_.steps > 0, "steps", p_.steps, "must be a positive integer");
  require(p_.lr >= 0, "lr", p_.lr, "must be 0 (optim.lr) or positive");
  require(p_.warmup_steps >= -1, "warmup_steps", p_.warmup_steps, "must be -1 (optim.warmup_steps) or 0 or more");
  require(p_.eval_every >= -1, "eval_every", p_.eval_every, "must be -1 (train.eval_every), 0 (off) or positive");
  require(p_.precision == "fp32" || p_.precision == "bf16" || p_.precision == "fp16", "precision", p_.precision,
          "must be fp32, bf16 or fp16");
  require(p_.loss_scale_init >= 1, "loss_scale_init", p_.loss_scale_init, "must be at least 1");
  require(p_.loss_scale_window > 0, "loss_scale_window", p_.loss_scale_window, "must be positive");
  // INI cannot hold these: '#' starts a comment and values are trimmed, so
  // the config written to the run directory would not read back the same.
  for (const auto& spec : phase_key_specs()) {
    if (!phase_key_applies(spec, p_.kind)) continue;
    if (!std::holds_alternative<std::string& (*)(PhaseConfig&)>(spec.field)) continue;
    const std::string& s = std::get<std::string& (*)(PhaseConfig&)>(spec.field)(const_cast<PhaseConfig&>(p_));
    require(s.find_first_of("#\n\r") == std::string::npos && trim(s) == s, spec.key, fmt::format("'{}'", s),
            "a value must not contain '#' or a line break, or start or end with spaces");
  }
}

void PhaseRules::batch_splits(int dp) const {
  if (c_.train.batch_size % dp != 0)
    fail_uniform(
        "train.batch_size = {} is not divisible by the data-parallel degree {} ({}; {} splits the global "
        "batch): each data-parallel rank takes an equal share of it; choose a multiple of {}",
        c_.train.batch_size, dp, o_.describe("train.batch_size"), p_.name(), dp);
}

void PhaseRules::pretrain(const ValidationScope& scope, bool will_run) const {
  const auto& q = p_.pretrain;
  require(q.curriculum_degree > 0, "curriculum_degree", q.curriculum_degree, "must be positive");
  require(q.curriculum_fraction > 0 && q.curriculum_fraction <= 1, "curriculum_fraction", q.curriculum_fraction,
          "must be in (0, 1]");
  require(q.quality_temperature > 0, "quality_temperature", q.quality_temperature, "must be positive");
  require(q.quality_growth >= 0, "quality_growth", q.quality_growth, "must be 0 or more");
  // The sampler (phases/pretrain/pretrain_phase.cpp) builds the same objects
  // from the same keys; building them here fails before any work.
  const std::string prefix = fmt::format("phase.{}.", p_.index);
  builds({"curriculum", "curriculum_min_level", "curriculum_max_level", "curriculum_boundaries"}, [&] {
    CurriculumConfig curriculum;
    curriculum.kind = parse_pacing_kind(q.curriculum, prefix + "curriculum");
    curriculum.min_level = static_cast<double>(q.curriculum_min_level);
    curriculum.max_level =
        static_cast<double>(q.curriculum_max_level > 0 ? q.curriculum_max_level : c_.data.task_max_level);
    curriculum.degree = curriculum.kind == PacingKind::Linear ? 1.0 : q.curriculum_degree;
    curriculum.total_steps = std::max<std::int64_t>(
        1, static_cast<std::int64_t>(std::llround(q.curriculum_fraction * static_cast<double>(p_.steps))));
    curriculum.boundaries = parse_step_list(q.curriculum_boundaries, prefix + "curriculum_boundaries");
    validate_curriculum(curriculum, CurriculumKeys::under(prefix));
  });
  if (q.curriculum_max_level > c_.data.task_max_level)
    fail_uniform("{} is above {}: the built-in task is generated with levels 1..{}; lower it (0 = that level)",
                 named("curriculum_max_level", q.curriculum_max_level),
                 run_key("data.task_max_level", c_.data.task_max_level), c_.data.task_max_level);
  builds({"source_weights"}, [&] { SourceWeightRules::parse(q.source_weights, prefix + "source_weights"); });
  if (will_run && scope.dp > 0) batch_splits(scope.dp);
}

void PhaseRules::alignment(const ValidationScope& scope, bool will_run) const {
  const auto& a = p_.align;
  const bool grpo = p_.kind == PhaseKind::Grpo;
  require(p_.precision == "fp32", "precision", p_.precision, "alignment phases train in fp32 only; remove the key");
  require(a.prompts_per_step > 0, "prompts_per_step", a.prompts_per_step, "must be a positive integer");
  require(a.samples_per_prompt > 0 && (!grpo || a.samples_per_prompt > 1), "samples_per_prompt", a.samples_per_prompt,
          "must be positive (grpo: at least 2, its advantages compare the samples of a group)");
  require(a.max_new_tokens > 0, "max_new_tokens", a.max_new_tokens, "must be positive");
  require(a.temperature > 0, "temperature", a.temperature,
          "must be positive (rollouts sample; greedy rollouts cannot explore)");
  require(a.top_p > 0 && a.top_p <= 1, "top_p", a.top_p, "must be in (0, 1]");
  require(a.epochs > 0, "epochs", a.epochs, "must be positive");
  require(a.minibatches > 0, "minibatches", a.minibatches, "must be positive");
  require(a.clip_eps > 0 && a.clip_eps < 1, "clip_eps", a.clip_eps, "must be in (0, 1)");
  require(a.value_clip > 0, "value_clip", a.value_clip, "must be positive");
  require(a.vf_coef >= 0, "vf_coef", a.vf_coef, "must be 0 or more");
  require(a.gamma > 0 && a.gamma <= 1, "gamma", a.gamma, "must be in (0, 1]");
  require(a.lambda >= 0 && a.lambda <= 1, "lambda", a.lambda, "must be in [0, 1]");
  require(a.value_head == "shared" || a.value_head == "separate", "value_head", a.value_head,
          "must be shared or separate");
  require(a.kl_coef == -1.0 || a.kl_coef >= 0, "kl_coef", a.kl_coef, "must be -1 (the kind's default) or 0 or more");
  require(a.kl_estimator.empty() || a.kl_estimator == "k1" || a.kl_estimator == "k3", "kl_estimator", a.kl_estimator,
          "must be k1 or k3 (or empty for the kind's default)");
  // GRPO's KL term sits in the loss, where k1's gradient (a constant beta per
  // token) averages to zero on-policy and regularises nothing.
  require(!grpo || a.kl_estimator != "k1", "kl_estimator", a.kl_estimator,
          "grpo keeps its KL penalty in the loss, where only k3 acts as one: use k3 (or leave it empty)");
  require(a.kl_target >= 0, "kl_target", a.kl_target, "must be 0 (fixed) or positive");
  require(a.kl_horizon > 0, "kl_horizon", a.kl_horizon, "must be positive");
  require(a.kl_ceiling >= 0, "kl_ceiling", a.kl_ceiling, "must be 0 (off) or positive");
  require(a.kl_ceiling_action == "stop" || a.kl_ceiling_action == "rollback", "kl_ceiling_action", a.kl_ceiling_action,
          "must be stop or rollback");
  require(a.reward_length_budget > 0, "reward_length_budget", a.reward_length_budget, "must be positive");
  require(a.reward_diversity_n > 0, "reward_diversity_n", a.reward_diversity_n, "must be positive");
  require(a.reward_eval_prompts >= 0, "reward_eval_prompts", a.reward_eval_prompts, "a number of prompts (0 = off)");
  // The phase builds the same reward from the same keys.
  builds({"reward_weights", "reward_lexicon"}, [&] {
    make_task_reward(
        {a.reward_weights, a.reward_lexicon, static_cast<int>(a.reward_diversity_n), a.reward_length_budget},
        key("reward_weights"));
  });
  const std::int64_t max_level = a.prompt_max_level == 0 ? c_.data.task_max_level : a.prompt_max_level;
  require(a.prompt_max_level >= 0 && a.prompt_max_level <= c_.data.task_max_level, "prompt_max_level",
          a.prompt_max_level,
          fmt::format("must be 0 (data.task_max_level) or at most {}",
                      run_key("data.task_max_level", c_.data.task_max_level)));
  require(a.prompt_min_level >= 1 && a.prompt_min_level <= max_level, "prompt_min_level", a.prompt_min_level,
          fmt::format("must be between 1 and the prompt max level {}", max_level));

  if (!will_run || scope.dp <= 0) return;
  const int dp = scope.dp;
  if (a.prompts_per_step % dp != 0)
    fail_uniform(
        "{} is not divisible by the data-parallel degree {}: each data-parallel rank takes an equal share "
        "of the prompts; choose a multiple of {}",
        named("prompts_per_step", a.prompts_per_step), dp, dp);
  // Each rank's rollout batch is split into `minibatches` equal updates.
  const std::int64_t rows = a.prompts_per_step / dp * a.samples_per_prompt;
  if (rows % a.minibatches != 0)
    fail_uniform(
        "{} does not divide the {} rollouts of a data-parallel rank (prompts_per_step {} / dp {} x "
        "samples_per_prompt {}): choose one of {}",
        named("minibatches", a.minibatches), rows, a.prompts_per_step, dp, a.samples_per_prompt, divisors_of(rows));
}

void PhaseRules::new_level() const {
  const auto& k = p_.continual;
  require(k.new_level >= 1 && k.new_level <= kMaxAnyTaskLevel, "new_level", k.new_level,
          fmt::format("must be a level of the built-in task, 1..{} ({} = a+b+c, which pre-training never shows)",
                      kMaxAnyTaskLevel, kContinualTaskLevel));
  if (k.new_level <= c_.data.task_max_level)
    fail_uniform(
        "{} is among the levels pre-training saw ({}): a continual phase learns a level the model has not "
        "seen; set new_level = {} or lower data.task_max_level below {}",
        named("new_level", k.new_level), run_key("data.task_max_level", c_.data.task_max_level), kContinualTaskLevel,
        k.new_level);
}

void PhaseRules::watch(bool will_run) const {
  const auto& k = p_.continual;
  builds({"watch_protocol"}, [&] { parse_watch_protocol(k.watch_protocol, key("watch_protocol")); });
  require(k.on_idle == "wait" || k.on_idle == "replay", "on_idle", k.on_idle,
          "must be wait (for new data, up to idle_timeout_s) or replay (train on replayed data meanwhile)");
  require(k.idle_timeout_s >= 0, "idle_timeout_s", k.idle_timeout_s,
          "must be 0 or positive (seconds without a new file before the phase ends)");
  require(k.watch_poll_s > 0 && k.watch_poll_s <= 3600, "watch_poll_s", k.watch_poll_s, "must be in (0, 3600] seconds");
  if (!will_run) return;
  std::error_code ec;
  if (!std::filesystem::is_directory(k.watch_dir, ec))
    fail_uniform("{}: {}: create the directory (new files are learned as they appear in it) or fix the path",
                 named("watch_dir", fmt::format("'{}'", k.watch_dir)),
                 std::filesystem::exists(k.watch_dir, ec) ? "is not a directory" : "does not exist");
}

void PhaseRules::continual(const ValidationScope& scope, bool will_run) const {
  const auto& k = p_.continual;
  require(k.new_samples > 0, "new_samples", k.new_samples, "must be positive");
  require(k.isolation == "lora" || k.isolation == "none", "isolation", k.isolation, "must be lora or none");
  require(k.lora_rank > 0, "lora_rank", k.lora_rank, "must be positive");
  require(k.lora_alpha > 0, "lora_alpha", k.lora_alpha, "must be positive");
  require(k.lora_plus_ratio > 0, "lora_plus_ratio", k.lora_plus_ratio, "must be positive (1 = plain LoRA)");
  require(k.replay_ratio >= 0 && k.replay_ratio < 1, "replay_ratio", k.replay_ratio, "must be in [0, 1)");
  // ContinualBatches: llround(B * replay_ratio) of each batch's B rows replay
  // the old levels; the rest, at least one, are the new level's.
  const std::int64_t replayed = std::llround(static_cast<double>(c_.train.batch_size) * k.replay_ratio);
  if (c_.train.batch_size - replayed < 1)
    fail_uniform(
        "{} leaves none of the {} rows of a batch ({}) for the new task: lower replay_ratio or raise "
        "train.batch_size",
        named("replay_ratio", k.replay_ratio), c_.train.batch_size, run_key("train.batch_size", c_.train.batch_size));
  require(k.ewc_lambda >= 0, "ewc_lambda", k.ewc_lambda, "must be 0 (off) or positive");
  require(k.ewc_lambda == 0 || k.isolation == "none", "ewc_lambda", k.ewc_lambda,
          "EWC regularises the shared weights, which isolation = lora freezes: set isolation = none or "
          "ewc_lambda = 0");
  require(k.ewc_batches > 0, "ewc_batches", k.ewc_batches, "must be positive");
  require(k.publish_every >= 0, "publish_every", k.publish_every, "must be 0 (at the end only) or positive");
  if (!k.watch_dir.empty()) {
    watch(will_run);  // new_level and new_samples are unused
  } else {
    new_level();
  }
  std::size_t named_targets = 0;
  for (std::size_t pos = 0; pos <= k.lora_targets.size();) {
    const auto comma = std::min(k.lora_targets.find(',', pos), k.lora_targets.size());
    const std::string t = trim(std::string_view(k.lora_targets).substr(pos, comma - pos));
    require(t.empty() || t == "qkv" || t == "attn_proj" || t == "fc" || t == "mlp_proj", "lora_targets",
            fmt::format("'{}'", k.lora_targets),
            fmt::format("'{}' is no projection; list some of {}, separated by commas", t, kLoraTargets));
    named_targets += t.empty() ? 0 : 1;
    pos = comma + 1;
  }
  require(k.isolation != "lora" || named_targets > 0, "lora_targets", fmt::format("'{}'", k.lora_targets),
          fmt::format("isolation = lora needs adapters somewhere: list some of {}", kLoraTargets));
  if (will_run && scope.dp > 0) batch_splits(scope.dp);
}

// Numbering, kinds, required keys and keys of another kind: what the INI
// sections and flags set, so only for a config read from them.
void validate_structure(const RunConfig& c, const ConfigOrigins& origins) {
  if (c.phases.empty() || origins.empty()) return;
  if (origins.has("train.steps"))
    fail_uniform(
        "train.steps ({}) is set, but the run is a schedule of [phase.N] sections whose steps keys give its "
        "length: set phase.N.steps (e.g. --phase.1.steps=100) instead, or run some phases with --phases",
        origins.describe("train.steps"));
  for (std::size_t i = 0; i < c.phases.size(); ++i) {
    const PhaseConfig& p = c.phases[i];
    if (p.index != static_cast<std::int64_t>(i) + 1)
      fail_uniform("[phase.{}] ({}) has no [phase.{}] before it: {}", p.index,
                   origins.describe(fmt::format("phase.{}.kind", p.index)), i + 1, kPhaseSectionHelp);
  }
  for (const auto& entry : origins.all()) {
    const std::string& name = entry.first;
    if (!name.starts_with("phase.")) continue;
    const auto dot = name.find('.', 6);
    const std::int64_t index = std::stoll(name.substr(6, dot - 6));
    const std::string key = name.substr(dot + 1);
    const PhaseConfig& p = c.phases[static_cast<std::size_t>(index - 1)];
    if (key == "kind") continue;
    if (!origins.has(fmt::format("phase.{}.kind", index)))
      fail_uniform("[phase.{}] has no kind ({} is {}): add kind = pretrain, ppo, grpo or continual", index, name,
                   origins.describe(name));
    const PhaseKeySpec* spec = find_phase_key(key);
    POUCH_CHECK(spec != nullptr, "unregistered phase key {}", name);
    if (!phase_key_applies(*spec, p.kind))
      fail_uniform("{} ({}) is not a key of a {} phase: it belongs to {} phases; remove it", name,
                   origins.describe(name), phase_kind_name(p.kind), phase_kinds_text(spec->kinds));
  }
  for (const PhaseConfig& p : c.phases) {
    if (!origins.has(fmt::format("phase.{}.kind", p.index)))
      fail_uniform("[phase.{}] has no kind: add kind = pretrain, ppo, grpo or continual", p.index);
    if (!origins.has(fmt::format("phase.{}.steps", p.index)))
      fail_uniform("[phase.{}] ({}) has no steps (its kind is {}): add steps = N (optimizer steps of the phase)",
                   p.index, phase_kind_name(p.kind), origins.describe(fmt::format("phase.{}.kind", p.index)));
  }
}

std::vector<PhaseConfig> phases_of(const RunConfig& cfg) {
  if (!cfg.phases.empty()) return cfg.phases;
  PhaseConfig only;  // the implicit schedule (schedule_of in schedule_runner.h)
  only.index = 1;
  only.kind = PhaseKind::Pretrain;
  only.steps = cfg.train.steps;
  return {only};
}

}  // namespace

void check_phase_data(const PhaseConfig& p, const RunConfig& cfg, const ConfigOrigins& origins) {
  if (cfg.data.path.empty()) return;
  const std::string where = fmt::format("data.path = '{}' ({})", cfg.data.path, origins.describe("data.path"));
  if (p.kind == PhaseKind::Continual && !p.continual.watch_dir.empty()) return;  // learns files, replays the shards
  if (p.kind != PhaseKind::Pretrain)
    fail_uniform(
        "{} needs the built-in reasoning task (its prompts, answers and levels), but {}: leave data.path "
        "empty, run only the pretrain phases with --phases, or (kind = continual) learn new files with "
        "watch_dir = DIR",
        p.name(), where);
  const auto& q = p.pretrain;
  const std::string prefix = fmt::format("phase.{}.", p.index);
  if (q.curriculum != "none")
    fail_uniform(
        "{}curriculum = {} ({}): a curriculum draws by the built-in task's levels, but {} (token shards "
        "carry no levels): set --{}curriculum=none",
        prefix, q.curriculum, origins.describe(prefix + "curriculum"), where, prefix);
  if (q.quality_sampling)
    fail_uniform(
        "{}quality_sampling = true ({}): it draws by the built-in task's quality scores, but {} (token "
        "shards carry none): set --{}quality_sampling=false",
        prefix, origins.describe(prefix + "quality_sampling"), where, prefix);
  if (!q.source_weights.empty())
    fail_uniform(
        "{}source_weights = '{}' ({}): the rules weigh the built-in task's sources, but {} (token shards "
        "carry none): set --{}source_weights=",
        prefix, q.source_weights, origins.describe(prefix + "source_weights"), where, prefix);
}

void validate_phase(const PhaseConfig& phase, const RunConfig& cfg, const ConfigOrigins& origins,
                    const ValidationScope& scope, bool will_run) {
  const PhaseRules rules(phase, cfg, origins);
  rules.common();
  switch (phase.kind) {
    case PhaseKind::Pretrain:
      rules.pretrain(scope, will_run);
      break;
    case PhaseKind::Ppo:
    case PhaseKind::Grpo:
      rules.alignment(scope, will_run);
      break;
    case PhaseKind::Continual:
      rules.continual(scope, will_run);
      break;
  }
  if (will_run) check_phase_data(phase, cfg, origins);
}

void validate_schedule(const RunConfig& cfg, const ConfigOrigins& origins, const ValidationScope& scope) {
  validate_structure(cfg, origins);
  // The built-in task's text is written in its character vocabulary; token
  // shards bring their own tokenizer, checked once it is read.
  if (cfg.data.path.empty()) {
    const std::int64_t task_vocab = CharTokenizer::reasoning().vocab_size();
    if (cfg.model.vocab_size < task_vocab)
      fail_uniform(
          "model.vocab_size = {} ({}) is smaller than the built-in reasoning task's vocabulary of {} "
          "characters: set model.vocab_size={}",
          cfg.model.vocab_size, origins.describe("model.vocab_size"), task_vocab, task_vocab);
  }
  for (const PhaseConfig& phase : phases_of(cfg)) {
    const bool will_run = scope.first_phase > 0 && phase.index >= scope.first_phase && phase.index <= scope.last_phase;
    validate_phase(phase, cfg, origins, scope, will_run);
  }
}

}  // namespace pouch
