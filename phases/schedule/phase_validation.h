#pragma once
// Every user-facing rule of a run's schedule, in one place, checked before
// the first step: the [phase.N] sections' structure (numbering, kinds,
// required keys, keys of another kind, from the key table in
// phases/schedule/phase_keys.h), each key's range, and the rules that tie a
// phase's keys to the rest of the config or to the world it runs on
// (levels vs data.task_max_level, replay rows vs train.batch_size,
// prompts_per_step and train.batch_size vs the data-parallel degree,
// minibatches vs the rollout rows of a rank, precision vs kind, the grammar of
// source_weights, reward_weights and lora_targets, the built-in task's
// vocabulary vs model.vocab_size). The phases themselves no longer re-check
// them.
//
// Which phases each rule covers:
//   - rules the config alone decides apply to every scheduled phase, also the
//     ones --phases leaves for a later invocation: that invocation reads the
//     same config, so an error there is an error now;
//   - rules that depend on this invocation (the data-parallel degree of the
//     world it was started on, data.path pointing at token shards) apply to
//     the phases it runs (ValidationScope): `--phases=1 --data.path=...`
//     pre-trains on shards, and a later phase may run on another layout.
//
// Every message names the key as phase.N.key, where it was set (file:line or
// the command-line flag; ConfigOrigins) and the fix. Each throws a
// UniformError: every rank validates the same config and world, so every rank
// fails alike, before any communication, and exits non-zero without a hang.
#include <cstdint>

#include "phases/schedule/config_origins.h"
#include "phases/schedule/run_config.h"

namespace pouch {

// What the invocation adds to the config.
struct ValidationScope {
  int dp = 0;  // the world's data-parallel degree; 0 = not known yet (the rules that need it are left out)
  // The phases this invocation runs, [first, last] (1-based); 0 = none known
  // (the rules that depend on the invocation are left out).
  std::int64_t first_phase = 0, last_phase = 0;
};

// The [phase.N] sections and every phase of the schedule; for a config
// without them, the implicit pretrain phase of train.steps.
void validate_schedule(const RunConfig& cfg, const ConfigOrigins& origins, const ValidationScope& scope = {});

// One phase: its keys' ranges and grammar and its cross-key rules.
// `will_run`: this invocation runs it (the scope's rules apply).
void validate_phase(const PhaseConfig& phase, const RunConfig& cfg, const ConfigOrigins& origins,
                    const ValidationScope& scope, bool will_run);

// The part of validate_phase that depends on the data this invocation reads:
// ppo, grpo and continual phases and the pretrain samplers (curriculum,
// quality, source weights) need the built-in task's prompts, levels and
// per-sample scores, which token shards (data.path) do not carry.
void check_phase_data(const PhaseConfig& phase, const RunConfig& cfg, const ConfigOrigins& origins = {});

}  // namespace pouch
