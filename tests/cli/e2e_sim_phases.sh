#!/usr/bin/env bash
# runtime.device = sim against cpu on the alignment and continual phases:
# grpo then continual with LoRA and replay (publishing every step), ppo with
# its value head then continual with EWC and full fine-tuning, and ppo with a
# separate critic then continual learning a watched directory. The same
# kernels run in the same order, so every step's metrics and the final
# weights must be bitwise equal; the sim runs have random delays on, so a
# missing wait would show as a different number; sim resumes from cpu
# checkpoints inside phases 2 and 3 to the same weights. host_syncs per step on sim
# stays within the budget of its phase kind (docs/user-guide.md, Devices):
#   pretrain   2 (the step's loss, read once, and the grad norm)
#   continual  2, + 1 with EWC (its penalty); publishing runs after the
#              step, outside its count
#   grpo, ppo  one per decode step of every rollout (at most seq_len per
#              sample); per rollout chunk (one per minibatch) 3 (log-probs,
#              entropy, reference log-probs) + 1 (values, ppo); per update
#              (epochs x minibatches) 1 (log-probs) + 1 (values, ppo) + 1
#              (grad norm) + 1 (a separate critic's grad norm)
# Evaluation steps (a phase's last step) are left out of the budget: they
# read one value per eval batch and per generated token, as allowed.
# usage: e2e_sim_phases.sh POUCH
set -euo pipefail
pouch=$1
support=$(cd "$(dirname "${BASH_SOURCE[0]}")/../support" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
mkdir watched
printf '12+7=19\n\n3*4=12\n\n9-5=4\n\n15+27=42\n\n8*8=64\n\n' > watched/new.txt

common=(--model.layers=2 --model.d_model=32 --model.heads=2 --model.seq_len=32 --train.batch_size=4
        --train.threads=1 --train.eval_every=1000 --data.task_train_samples=2000 --data.task_eval_per_level=1
        --log.peak_gflops=100 --phase.1.steps=2 --phase.2.steps=3 --phase.2.prompts_per_step=2
        --phase.2.samples_per_prompt=2 --phase.2.max_new_tokens=6 --phase.2.reward_eval_prompts=0 --phase.3.steps=3
        --checkpoint.every_steps=1 --checkpoint.keep_last=100)
runs=(grpo ppo critic)
declare -A extra=(
  [grpo]="--phase.3.isolation=lora --phase.3.publish_every=1"
  [ppo]="--phase.2.kind=ppo --phase.3.isolation=none --phase.3.ewc_lambda=10 --phase.3.ewc_batches=2 --train.grad_accum=2"
  [critic]="--phase.2.kind=ppo --phase.2.value_head=separate --phase.3.watch_dir=$dir/watched --phase.3.idle_timeout_s=0"
)
for run in "${runs[@]}"; do
  # shellcheck disable=SC2086
  "$pouch" train "${common[@]}" ${extra[$run]} --train.run_dir="$run-cpu" --runtime.device=cpu > "$run-cpu.log" 2>&1 ||
    { tail -20 "$run-cpu.log"; exit 1; }
  # shellcheck disable=SC2086
  POUCH_SIM_DELAY_US=0:20 "$pouch" train "${common[@]}" ${extra[$run]} --train.run_dir="$run-sim" \
    --runtime.device=sim > "$run-sim.log" 2>&1 || { tail -20 "$run-sim.log"; exit 1; }
  grep -q "device: sim (runtime.device = sim)" "$run-sim.log"
done
# Resumes on sim from cpu checkpoints inside phase 2 (step 4) and phase 3
# (step 7) of the grpo and ppo runs: the phase tensors (reference model,
# value head, LoRA adapters, EWC's Fisher and anchor) go through host memory.
for run in grpo ppo; do
  for step in 4 7; do
    # shellcheck disable=SC2086
    POUCH_SIM_DELAY_US=0:20 "$pouch" train "${common[@]}" ${extra[$run]} --train.run_dir="$run-resume$step" \
      --runtime.device=sim --resume="$run-cpu/checkpoints/step-0000000$step" > "$run-resume$step.log" 2>&1 ||
      { tail -20 "$run-resume$step.log"; exit 1; }
    grep -q "resumed from .*$run-cpu/checkpoints/step-0000000$step" "$run-resume$step.log"
  done
done
grep -q "EWC lambda 10" ppo-sim.log
grep -q "watch: learning" critic-sim.log
test -f grpo-sim/serve/LATEST

PYTHONPATH="$support" /usr/bin/python3 - "${runs[@]}" <<'PY'
import sys
from run_outputs import assert_same_datasets, steps

# Wall-clock fields, and the sync and host-block counters (cpu counts none).
VOLATILE = {"elapsed_s", "step_s", "tokens_per_s", "mfu", "checkpoint_s", "watch_wait_s", "host_syncs",
            "comm_host_blocks"}
# The runs' shapes: seq_len, samples per step (prompts x samples_per_prompt),
# and the phase defaults epochs = 2, minibatches = 2.
SEQ_LEN, SAMPLES, EPOCHS, MINIBATCHES = 32, 4, 2, 2



def budget(s, run):
    kind = s["phase_kind"]
    if kind == "pretrain":
        return 1
    if kind == "continual":
        return 2 if run == "ppo" else 1
    ppo, critic = int(kind == "ppo"), int(run == "critic")
    return SAMPLES * SEQ_LEN + MINIBATCHES * (3 + ppo) + EPOCHS * MINIBATCHES * (2 + ppo + critic)

for run in sys.argv[1:]:
    cpu, sim = steps(f"{run}-cpu/metrics.jsonl"), steps(f"{run}-sim/metrics.jsonl")
    assert len(cpu) == len(sim) and len(cpu) >= 6, (run, len(cpu), len(sim))
    kinds = sorted({s["phase_kind"] for s in sim})
    for c, s in zip(cpu, sim):
        for k in set(c) | set(s):
            if k not in VOLATILE:
                assert c.get(k) == s.get(k), f"{run} step {c['step']} {k}: cpu {c.get(k)!r} sim {s.get(k)!r}"
        assert s["host_syncs"] >= 1, f"{run} step {s['step']}: no host sync counted on sim: the counter is broken"
        last_of_phase = s is [t for t in sim if t["phase"] == s["phase"]][-1]
        if not last_of_phase:
            b = budget(s, run)
            assert s["host_syncs"] <= b, f"{run} step {s['step']} ({s['phase_kind']}): {s['host_syncs']} host syncs, budget {b}"
    assert_same_datasets(f"{run}-cpu/model.h5", f"{run}-sim/model.h5", f"{run}, sim against cpu")
    for step in (4, 7) if run != "critic" else ():
        assert_same_datasets(f"{run}-cpu/model.h5", f"{run}-resume{step}/model.h5",
                             f"{run}, resumed on sim from cpu's step {step}")
    print(f"{run}: sim == cpu bitwise over {len(sim)} steps ({', '.join(kinds)}) and the final weights; host_syncs",
          [s["host_syncs"] for s in sim])
PY
