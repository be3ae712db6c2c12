#pragma once
// One phase of a run's schedule: an INI section [phase.N] (N = 1, 2, ...,
// consecutive), run in order by the scheduler (phases/schedule/schedule_runner.h). Every
// phase has a kind and a number of optimizer steps; the other keys belong to
// one kind (the key table in phases/schedule/phase_keys.cpp says which) and setting
// a key of another kind is an error.
//
//   [phase.1] kind = pretrain   curriculum, source weights, quality sampling
//   [phase.2] kind = ppo|grpo   alignment on the built-in task's prompts
//   [phase.3] kind = continual  a new task with adapters + replay, published
//                               for `pouch serve --watch`
//
// A config without [phase.N] sections is one pretrain phase of train.steps
// steps with uniform sampling (the behaviour before phases existed).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pouch {

enum class PhaseKind { Pretrain, Ppo, Grpo, Continual };

std::string_view phase_kind_name(PhaseKind kind);
// Throws pouch::Error naming `key` and the kinds when `text` is none of them.
PhaseKind parse_phase_kind(std::string_view text, std::string_view key);

// kind = pretrain (data/curriculum.h, data/source_weight_rules.h,
// data/curriculum_sampler.h give the formulas).
struct PretrainPhaseConfig {
  std::string curriculum = "none";  // pacing: none | fixed_discrete | linear | root
  double curriculum_degree = 2.0;   // root: difficulty grows as (step/total)^(1/degree)
  std::int64_t curriculum_min_level = 1;
  std::int64_t curriculum_max_level = 0;  // 0 = data.task_max_level
  double curriculum_fraction = 0.8;       // the pacing reaches the max level at this fraction of the phase
  std::string curriculum_boundaries;      // fixed_discrete: steps at which each next level unlocks, "300,600,900"
  std::string source_weights;             // per-source epoch rules, "simple*0.8@epoch<10; complex*1.5@epoch>=10"
  bool quality_sampling = false;          // p ∝ exp(quality·(1 + growth·epoch)/temperature) within a source
  double quality_growth = 0.1;
  double quality_temperature = 1.0;
};

// kind = ppo | grpo.
struct AlignmentPhaseConfig {
  std::int64_t prompts_per_step = 16;   // global, split over data-parallel ranks
  std::int64_t samples_per_prompt = 4;  // G: completions per prompt (GRPO's group)
  std::int64_t max_new_tokens = 64;
  double temperature = 1.0;
  double top_p = 1.0;
  std::int64_t prompt_min_level = 1;
  std::int64_t prompt_max_level = 0;  // 0 = data.task_max_level
  std::int64_t epochs = 2;            // passes over each rollout batch
  std::int64_t minibatches = 2;       // optimizer steps per pass
  double clip_eps = 0.2;              // policy ratio clip
  double value_clip = 0.2;            // value clip around the rollout's values
  double vf_coef = 0.5;               // weight of the value loss (shared trunk)
  double gamma = 1.0;
  double lambda = 0.95;  // GAE
  bool whiten_advantages = true;
  std::string value_head = "shared";  // shared (on the policy's trunk) | separate (a critic GPT)
  double kl_coef = -1.0;              // < 0: the kind's default, 0.05 (ppo) or 0.04 (grpo)
  std::string kl_estimator;           // "" = kind default: k1 in the reward (ppo), k3 in the loss (grpo)
  double kl_target = 0.0;             // > 0: adaptive coefficient (Ziegler et al.) towards this KL
  std::int64_t kl_horizon = 10000;
  double kl_ceiling = 0.0;                 // > 0: mean KL above this triggers kl_ceiling_action
  std::string kl_ceiling_action = "stop";  // stop | rollback
  std::string reward_weights = "accuracy=0.3,coherence=0.25,harmless=0.2,diversity=0.15,efficiency=0.1";
  std::string reward_lexicon = "kill;hate;stupid";  // the harmful-content scorer's banned strings
  std::int64_t reward_length_budget =
      64;  // tokens; the efficiency scorer's budget (the longest clean level-4 answer is 59)
  std::int64_t reward_diversity_n = 3;  // n-gram size of the diversity scorer
  // Held-out prompts whose reward is measured at the phase start and end
  // (phases/alignment/held_out_reward.h); 0 = not measured.
  std::int64_t reward_eval_prompts = 64;
};

// kind = continual.
struct ContinualPhaseConfig {
  std::int64_t new_level = 6;        // the built-in task's new level (data/arith_problem.h)
  std::int64_t new_samples = 20000;  // generated samples of the new task
  std::string isolation = "lora";    // lora (base frozen, adapters trained) | none (plain fine-tuning)
  std::int64_t lora_rank = 8;
  double lora_alpha = 16.0;
  std::string lora_targets = "qkv,attn_proj,fc,mlp_proj";
  // LoRA+ (Hayou et al. 2024): the B matrices learn at lora_plus_ratio x lr,
  // the A matrices at lr; 1 = plain LoRA.
  double lora_plus_ratio = 1.0;
  double replay_ratio = 0.25;       // share of each batch's rows drawn from the old levels
  double ewc_lambda = 0.0;          // elastic weight consolidation strength (isolation = none); 0 = off
  std::int64_t ewc_batches = 8;     // batches of old data for the Fisher estimate
  std::int64_t publish_every = 50;  // steps between published weights for `pouch serve`; 0 = at the end only
  bool recompute = true;            // activation checkpointing
  // Learning from a directory (phases/continual/watched_batches.h): when
  // set, new files that appear in watch_dir are the new data (new_level and
  // new_samples are unused) and replay reads the run's training data.
  std::string watch_dir;
  std::string watch_protocol = "rename";  // rename | done (data/watched_directory.h)
  std::string on_idle = "wait";           // wait | replay: when fewer new windows are ready than a step takes
  double idle_timeout_s = 60.0;           // idle (short of data, no new file) this long: the phase ends
  double watch_poll_s = 1.0;              // on_idle = wait: seconds between listings
};

struct PhaseConfig {
  std::int64_t index = 0;  // N of [phase.N]
  PhaseKind kind = PhaseKind::Pretrain;
  std::int64_t steps = 0;                // optimizer steps of this phase
  double lr = 0.0;                       // 0 = optim.lr
  std::int64_t warmup_steps = -1;        // < 0 = optim.warmup_steps
  std::int64_t eval_every = -1;          // < 0 = train.eval_every
  std::string precision = "fp32";        // fp32 | bf16 | fp16 (runtime/precision.h)
  double loss_scale_init = 65536.0;      // fp16: dynamic loss scaler
  std::int64_t loss_scale_window = 200;  // fp16: good steps before the scale grows
  PretrainPhaseConfig pretrain;
  AlignmentPhaseConfig align;
  ContinualPhaseConfig continual;

  std::string name() const;  // "phase 2 (ppo)"
};

}  // namespace pouch
