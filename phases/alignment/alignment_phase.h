#pragma once
// kind = ppo | grpo: alignment of the model on the built-in task's prompts
// with the rewards of phases/alignment/task_reward_scorers.h.
//
// One phase step = one rollout batch + updates:
//   1. prompts: prompts_per_step training problems (phases/alignment/rollout.h), split
//      over data-parallel ranks (every tensor-parallel rank the same);
//   2. samples_per_prompt sampled completions each (KV-cache generation);
//   3. rewards: the WeightedReward of each prompt's group, every dimension
//      logged (reward_<dim>);
//   4. old log-probs (the current policy, no grad), reference log-probs (a
//      frozen copy of the weights at the phase start, checkpointed as
//      /phase/ppo/ref/<name>), values (ppo: a ValueHead on the policy's trunk,
//      or value_head = separate: on a critic GPT initialised from the policy);
//   5. ppo: KL-shaped per-token rewards (k1 in the reward, or a k3 term in the
//      loss with kl_estimator = k3), GAE, advantages whitened over the global
//      batch; grpo: group-normalised advantages and grpo_loss with its KL
//      term; then `epochs` passes of `minibatches` AdamW updates each,
//      gradients summed over dp (the losses are global means: ppo_math.h);
//   6. guards: mean KL per token vs the reference, entropy, clip fraction,
//      approx KL, value loss, the KL coefficient (adaptive when kl_target >
//      0); kl_ceiling > 0: when the KL after a step's updates exceeds it,
//      `stop` keeps the update, `rollback` restores the weights from before
//      it, and either way the phase ends with its boundary checkpoint stamped
//      at the phase's last global step.
// Held-out accuracy and format are evaluated at the phase start and end (and
// every eval_every); a summary line compares them.
#include <memory>

#include "phases/schedule/phase.h"

namespace pouch {

std::unique_ptr<Phase> make_alignment_phase(const PhaseContext& ctx);

}  // namespace pouch
