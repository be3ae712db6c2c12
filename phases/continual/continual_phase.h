#pragma once
// kind = continual: learns a new level of the built-in task (new_level, never
// seen in pre-training) while `pouch serve --watch <run_dir>` keeps answering
// with the weights this phase publishes.
//
// Data (phases/continual/continual_batches.h): each micro-batch's B global rows are
// B − round(B·replay_ratio) new-level windows then replayed windows of the
// old levels 1..data.task_max_level, a pure function of (seed, step); rows
// split over data-parallel ranks like pretrain. Loss: the mean token loss of
// the global batch (dloss = 1/(B·T·A)).
//
// Isolation:
//   lora  adapters (model/lora.h) on lora_targets, base frozen; AdamW over
//         the adapters only; under dp their gradients are all-reduced after
//         backward. At the last step the adapters are merged into the base
//         (W += (α/r) B A), so the boundary checkpoint, model.h5 and the next
//         phase get the adapted model.
//   none  plain fine-tuning of every weight (pretrain's optimizer and dp
//         reducer), optionally with EWC (phases/continual/ewc_penalty.h): F from
//         ewc_batches old-data batches and θ* at the phase start, and
//         λ·F·(θ − θ*) added to the gradients before clipping and the step.
//
// Publishing: every publish_every steps and at the last step the merged
// weights become version = the global step of <run_dir>/serve
// (checkpoint/serving_versions.h), written by rank 0 after the collective
// gather; a resumed phase skips versions <= the published LATEST.
//
// Checkpoints inside the phase: /model = the base weights (fp32 masters
// under bf16/fp16); /optim = AdamW's moments (isolation none); /phase:
//   continual/lora/<name>, continual/lora/m/<name>, continual/lora/v/<name>
//   continual/ewc/fisher/<name>, continual/ewc/anchor/<name>
// /data continual_lora_optim = {AdamW step count of the adapters},
// continual_before = {level, total, correct, well_formed} per evaluated
// level at the phase start (the summary's "before"), /data_f64 loss_scaler.
//
// Evaluation: at the phase start and end (and every eval_every steps)
// accuracy on the new level and on the old levels; at the end
// phases/continual/continual_summary.h's new-task before -> after, forgetting and BWT
// (printed, and in the last metrics line).
#include <memory>

#include "phases/schedule/phase.h"

namespace pouch {

std::unique_ptr<Phase> make_continual_phase(const PhaseContext& ctx);

}  // namespace pouch
