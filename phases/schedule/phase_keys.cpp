#include "phases/schedule/phase_keys.h"

namespace pouch {

#define POUCH_PHASE_FIELD(member) POUCH_FIELD_OF(PhaseConfig, member)

const std::vector<PhaseKeySpec>& phase_key_specs() {
  static const std::vector<PhaseKeySpec> specs = {
      {"steps", kAllPhaseKinds, POUCH_PHASE_FIELD(steps),
       "optimizer steps of this phase (required; ppo/grpo: one rollout batch per step)"},
      {"lr", kAllPhaseKinds, POUCH_PHASE_FIELD(lr), "peak learning rate of this phase; 0 = optim.lr"},
      {"warmup_steps", kAllPhaseKinds, POUCH_PHASE_FIELD(warmup_steps),
       "learning-rate warmup steps of this phase; -1 = optim.warmup_steps"},
      {"eval_every", kAllPhaseKinds, POUCH_PHASE_FIELD(eval_every),
       "steps between evaluations in this phase (also at its first and last step); -1 = train.eval_every, 0 = off"},
      {"precision", kPretrainKeys | kContinualKeys, POUCH_PHASE_FIELD(precision),
       "fp32, bf16 or fp16: 16-bit weight copies and block activations, fp32 master weights and accumulation"},
      {"loss_scale_init", kPretrainKeys | kContinualKeys, POUCH_PHASE_FIELD(loss_scale_init),
       "fp16: initial dynamic loss scale"},
      {"loss_scale_window", kPretrainKeys | kContinualKeys, POUCH_PHASE_FIELD(loss_scale_window),
       "fp16: consecutive overflow-free steps before the loss scale doubles"},

      {"curriculum", kPretrainKeys, POUCH_PHASE_FIELD(pretrain.curriculum),
       "pacing of the difficulty level: none, fixed_discrete, linear or root"},
      {"curriculum_degree", kPretrainKeys, POUCH_PHASE_FIELD(pretrain.curriculum_degree),
       "root pacing: level = min + (max - min) * (step / total)^(1 / degree)"},
      {"curriculum_min_level", kPretrainKeys, POUCH_PHASE_FIELD(pretrain.curriculum_min_level),
       "the level the curriculum starts at"},
      {"curriculum_max_level", kPretrainKeys, POUCH_PHASE_FIELD(pretrain.curriculum_max_level),
       "the level it ends at; 0 = data.task_max_level"},
      {"curriculum_fraction", kPretrainKeys, POUCH_PHASE_FIELD(pretrain.curriculum_fraction),
       "linear/root: the share of the phase's steps after which every level is drawn, in (0, 1]"},
      {"curriculum_boundaries", kPretrainKeys, POUCH_PHASE_FIELD(pretrain.curriculum_boundaries),
       "fixed_discrete: the steps at which each next level unlocks, e.g. 300,600,900,1200"},
      {"source_weights", kPretrainKeys, POUCH_PHASE_FIELD(pretrain.source_weights),
       "per-source data weights by epoch, e.g. simple*0.8@epoch<10; complex*1.5@epoch>=10 (empty = equal)"},
      {"quality_sampling", kPretrainKeys, POUCH_PHASE_FIELD(pretrain.quality_sampling),
       "draw samples with p ∝ exp(quality * (1 + quality_growth * epoch) / quality_temperature) within a source"},
      {"quality_growth", kPretrainKeys, POUCH_PHASE_FIELD(pretrain.quality_growth),
       "how fast quality sampling sharpens per epoch"},
      {"quality_temperature", kPretrainKeys, POUCH_PHASE_FIELD(pretrain.quality_temperature),
       "quality sampling temperature (higher = closer to uniform)"},

      {"prompts_per_step", kAlignKeys, POUCH_PHASE_FIELD(align.prompts_per_step),
       "prompts per rollout batch (global; split over data-parallel ranks)"},
      {"samples_per_prompt", kAlignKeys, POUCH_PHASE_FIELD(align.samples_per_prompt),
       "completions sampled per prompt (GRPO's group size G)"},
      {"max_new_tokens", kAlignKeys, POUCH_PHASE_FIELD(align.max_new_tokens), "longest completion in tokens"},
      {"temperature", kAlignKeys, POUCH_PHASE_FIELD(align.temperature), "rollout sampling temperature (> 0)"},
      {"top_p", kAlignKeys, POUCH_PHASE_FIELD(align.top_p), "rollout nucleus sampling, in (0, 1]"},
      {"prompt_min_level", kAlignKeys, POUCH_PHASE_FIELD(align.prompt_min_level), "easiest task level of the prompts"},
      {"prompt_max_level", kAlignKeys, POUCH_PHASE_FIELD(align.prompt_max_level),
       "hardest task level of the prompts; 0 = data.task_max_level"},
      {"epochs", kAlignKeys, POUCH_PHASE_FIELD(align.epochs), "optimization passes over each rollout batch"},
      {"minibatches", kAlignKeys, POUCH_PHASE_FIELD(align.minibatches),
       "optimizer updates per pass (the batch is split into this many minibatches)"},
      {"clip_eps", kAlignKeys, POUCH_PHASE_FIELD(align.clip_eps), "policy ratio clip epsilon"},
      {"value_clip", kPpoKeys, POUCH_PHASE_FIELD(align.value_clip), "value clip around the rollout's values"},
      {"vf_coef", kPpoKeys, POUCH_PHASE_FIELD(align.vf_coef), "weight of the value loss"},
      {"gamma", kPpoKeys, POUCH_PHASE_FIELD(align.gamma), "GAE discount"},
      {"lambda", kPpoKeys, POUCH_PHASE_FIELD(align.lambda), "GAE lambda"},
      {"whiten_advantages", kPpoKeys, POUCH_PHASE_FIELD(align.whiten_advantages),
       "normalise advantages to mean 0, variance 1 over the rollout batch"},
      {"value_head", kPpoKeys, POUCH_PHASE_FIELD(align.value_head),
       "shared (a value head on the policy's trunk) or separate (a critic GPT initialised from the policy)"},
      {"kl_coef", kAlignKeys, POUCH_PHASE_FIELD(align.kl_coef),
       "KL penalty coefficient beta; -1 = 0.05 for ppo, 0.04 for grpo"},
      {"kl_estimator", kAlignKeys, POUCH_PHASE_FIELD(align.kl_estimator),
       "k1 (per-token penalty in the reward) or k3 (term of the loss); empty = k1 for ppo, k3 for grpo"},
      {"kl_target", kAlignKeys, POUCH_PHASE_FIELD(align.kl_target),
       "> 0: adapt beta towards this KL per token (Ziegler et al. 2019); 0 = fixed beta"},
      {"kl_horizon", kAlignKeys, POUCH_PHASE_FIELD(align.kl_horizon), "adaptive KL controller horizon"},
      {"kl_ceiling", kAlignKeys, POUCH_PHASE_FIELD(align.kl_ceiling),
       "> 0: a mean KL to the reference above this stops the phase or rolls it back (kl_ceiling_action)"},
      {"kl_ceiling_action", kAlignKeys, POUCH_PHASE_FIELD(align.kl_ceiling_action),
       "stop (end the phase keeping the last update) or rollback (restore the weights before the offending update "
       "and end the phase)"},
      {"reward_weights", kAlignKeys, POUCH_PHASE_FIELD(align.reward_weights),
       "reward = weighted sum of the scorers accuracy, coherence, harmless, diversity, efficiency"},
      {"reward_lexicon", kAlignKeys, POUCH_PHASE_FIELD(align.reward_lexicon),
       "harmful-content scorer: banned strings separated by ';'"},
      {"reward_length_budget", kAlignKeys, POUCH_PHASE_FIELD(align.reward_length_budget),
       "efficiency scorer: completions up to this many tokens score 1"},
      {"reward_diversity_n", kAlignKeys, POUCH_PHASE_FIELD(align.reward_diversity_n), "diversity scorer: n-gram size"},
      {"reward_eval_prompts", kAlignKeys, POUCH_PHASE_FIELD(align.reward_eval_prompts),
       "held-out prompts whose reward is measured at the phase start and end (the same prompts and sampling "
       "streams both times); 0 = off"},

      {"new_level", kContinualKeys, POUCH_PHASE_FIELD(continual.new_level),
       "the built-in task's level learned in this phase (6 = a+b+c, never seen in pre-training)"},
      {"new_samples", kContinualKeys, POUCH_PHASE_FIELD(continual.new_samples), "generated samples of the new level"},
      {"isolation", kContinualKeys, POUCH_PHASE_FIELD(continual.isolation),
       "lora (base weights frozen, low-rank adapters trained) or none (plain fine-tuning of every weight)"},
      {"lora_rank", kContinualKeys, POUCH_PHASE_FIELD(continual.lora_rank), "rank r of the adapters"},
      {"lora_alpha", kContinualKeys, POUCH_PHASE_FIELD(continual.lora_alpha),
       "adapter scale: the update is (alpha / r) * B A"},
      {"lora_targets", kContinualKeys, POUCH_PHASE_FIELD(continual.lora_targets),
       "projections that get adapters: any of qkv, attn_proj, fc, mlp_proj"},
      {"lora_plus_ratio", kContinualKeys, POUCH_PHASE_FIELD(continual.lora_plus_ratio),
       "LoRA+: the B matrices learn at this multiple of lr (A at lr); 1 = plain LoRA"},
      {"replay_ratio", kContinualKeys, POUCH_PHASE_FIELD(continual.replay_ratio),
       "share of each batch's rows replayed from the old levels, in [0, 1)"},
      {"ewc_lambda", kContinualKeys, POUCH_PHASE_FIELD(continual.ewc_lambda),
       "elastic weight consolidation strength (isolation = none): lambda/2 * sum F (w - w_old)^2; 0 = off"},
      {"ewc_batches", kContinualKeys, POUCH_PHASE_FIELD(continual.ewc_batches),
       "batches of old data for EWC's diagonal Fisher estimate"},
      {"publish_every", kContinualKeys, POUCH_PHASE_FIELD(continual.publish_every),
       "steps between weights published to <run_dir>/serve for pouch serve --watch; 0 = at the end only"},
      {"recompute", kContinualKeys, POUCH_PHASE_FIELD(continual.recompute), "activation checkpointing in this phase"},
      {"watch_dir", kContinualKeys, POUCH_PHASE_FIELD(continual.watch_dir),
       "learn the files that appear in this directory (.jsonl, text, .bin token shards) instead of a new level "
       "of the built-in task; replay reads the run's training data"},
      {"watch_protocol", kContinualKeys, POUCH_PHASE_FIELD(continual.watch_protocol),
       "when a file in watch_dir is complete: rename (as soon as it appears; write elsewhere, then rename it "
       "in) or done (once NAME.done exists)"},
      {"on_idle", kContinualKeys, POUCH_PHASE_FIELD(continual.on_idle),
       "wait (for a step's worth of new data, up to idle_timeout_s) or replay (train on what is there, "
       "replayed data filling the rest)"},
      {"idle_timeout_s", kContinualKeys, POUCH_PHASE_FIELD(continual.idle_timeout_s),
       "seconds idle (short of a step's new data, no new file since) after which the phase ends; wait: 0 = "
       "end once the data runs out, replay: 0 = never"},
      {"watch_poll_s", kContinualKeys, POUCH_PHASE_FIELD(continual.watch_poll_s),
       "on_idle = wait: seconds between listings of watch_dir"},
  };
  return specs;
}

#undef POUCH_PHASE_FIELD

const PhaseKeySpec* find_phase_key(std::string_view key) {
  for (const auto& spec : phase_key_specs())
    if (spec.key == key) return &spec;
  return nullptr;
}

bool phase_key_applies(const PhaseKeySpec& spec, PhaseKind kind) {
  return (spec.kinds & (1u << static_cast<unsigned>(kind))) != 0;
}

std::string phase_kinds_text(unsigned kinds) {
  if (kinds == kAllPhaseKinds) return "all kinds";
  std::string out;
  for (PhaseKind k : {PhaseKind::Pretrain, PhaseKind::Ppo, PhaseKind::Grpo, PhaseKind::Continual})
    if (kinds & (1u << static_cast<unsigned>(k))) out += (out.empty() ? "" : ", ") + std::string(phase_kind_name(k));
  return out;
}

}  // namespace pouch
