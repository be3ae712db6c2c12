#!/usr/bin/env bash
# Every phase kind at tp=2 under mpirun on runtime.device = sim against cpu:
# pretrain, then grpo, then continual with LoRA, replay and publishing; and
# pretrain, ppo with a value head, continual with full fine-tuning and EWC.
# The tensor-parallel collectives of rollouts, policy losses, LoRA and EWC go
# through the staged communicator with the sim device's delays on, so every
# metric and the final weights must be bitwise the cpu run's.
# usage: sim_phases_tp2.sh POUCH MPIEXEC
set -euo pipefail
pouch=$1 mpiexec=$2
support=$(cd "$(dirname "${BASH_SOURCE[0]}")/../support" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
common=(--model.layers=2 --model.d_model=32 --model.heads=2 --model.seq_len=32 --train.batch_size=4
        --train.threads=1 --train.eval_every=1000 --data.task_train_samples=2000 --data.task_eval_per_level=1
        --log.peak_gflops=100 --phase.1.steps=2 --phase.2.steps=2 --phase.2.prompts_per_step=2
        --phase.2.samples_per_prompt=2 --phase.2.max_new_tokens=6 --phase.2.reward_eval_prompts=0 --phase.3.steps=2
        --parallel.tp=2 --parallel.timeout_s=60)
declare -A extra=(
  [grpo]="--phase.3.isolation=lora --phase.3.publish_every=1"
  [ppo]="--phase.2.kind=ppo --phase.3.isolation=none --phase.3.ewc_lambda=10 --phase.3.ewc_batches=2"
)
for run in grpo ppo; do
  for device in cpu sim; do
    # shellcheck disable=SC2086
    "$mpiexec" -np 2 --oversubscribe --allow-run-as-root -x POUCH_SIM_DELAY_US=0:20 \
      "$pouch" train "${common[@]}" ${extra[$run]} --train.run_dir="$run-$device" --runtime.device=$device \
      > "$run-$device.log" 2>&1 || { echo "$run on $device failed:"; tail -20 "$run-$device.log"; exit 1; }
  done
done
grep -q "device: sim (runtime.device = sim)" grpo-sim.log
test -f grpo-sim/serve/LATEST

PYTHONPATH="$support" /usr/bin/python3 - <<'PY'
from run_outputs import assert_same_datasets, steps

VOLATILE = {"elapsed_s", "step_s", "tokens_per_s", "mfu", "checkpoint_s", "host_syncs", "comm_host_blocks"}

def stable(path):
    return [{k: v for k, v in line.items() if k not in VOLATILE} for line in steps(path)]

for run in ("grpo", "ppo"):
    cpu, sim = stable(f"{run}-cpu/metrics.jsonl"), stable(f"{run}-sim/metrics.jsonl")
    assert len(cpu) == len(sim) == 6, (run, len(cpu), len(sim))
    for c, s in zip(cpu, sim):
        assert c == s, f"{run} step {c.get('step')}: cpu {c} sim {s}"
    assert_same_datasets(f"{run}-cpu/model.h5", f"{run}-sim/model.h5", f"{run} at tp=2, sim against cpu")
    print(f"{run}: tp=2 sim == cpu bitwise over {len(sim)} steps of 3 phases, final weights")
PY
