#!/usr/bin/env bash
# runtime.device = sim against cpu on a short pretraining run: the same
# kernels in the same order, so every step's loss, grad norm and eval, and
# the final weights, must be bitwise equal; a checkpoint written on sim
# resumes on cpu and the reverse, to the same final weights; host_syncs per
# optimizer step on sim stays within the budget (docs/user-guide.md, Devices)
# at grad_accum 2 and 4: the loss accumulates on the device and is read
# once, so the count must not grow with grad_accum.
# The sim run has random delays on, so a missing wait would show as a
# different number.
# usage: e2e_sim_device.sh POUCH
set -euo pipefail
pouch=$1
support=$(cd "$(dirname "${BASH_SOURCE[0]}")/../support" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
base=(--model.layers=2 --model.d_model=32 --model.heads=2 --model.seq_len=32 --train.batch_size=4
      --train.threads=1 --train.eval_every=2 --data.task_train_samples=2000
      --data.task_eval_per_level=2 --log.peak_gflops=100 --checkpoint.every_steps=2 --phases=1)
args=("${base[@]}" --train.grad_accum=2 --phase.1.steps=4)
"$pouch" train "${args[@]}" --train.run_dir=cpu --runtime.device=cpu > cpu.log 2>&1
POUCH_SIM_DELAY_US=0:30 "$pouch" train "${args[@]}" --train.run_dir=sim --runtime.device=sim > sim.log 2>&1
grep -q "device: sim (runtime.device = sim)" sim.log
"$pouch" train "${args[@]}" --train.run_dir=cpu_from_sim --runtime.device=cpu \
  --resume=sim/checkpoints/step-00000002 > cpu_from_sim.log 2>&1
POUCH_SIM_DELAY_US=0:30 "$pouch" train "${args[@]}" --train.run_dir=sim_from_cpu --runtime.device=sim \
  --resume=cpu/checkpoints/step-00000002 > sim_from_cpu.log 2>&1
POUCH_SIM_DELAY_US=0:30 "$pouch" train "${base[@]}" --train.grad_accum=4 --phase.1.steps=2 --train.run_dir=sim_accum4 \
  --runtime.device=sim > sim_accum4.log 2>&1
grep -q "resumed from .*sim/checkpoints/step-00000002" cpu_from_sim.log
grep -q "resumed from .*cpu/checkpoints/step-00000002" sim_from_cpu.log

PYTHONPATH="$support" /usr/bin/python3 - <<'PY'
from run_outputs import assert_same_datasets, steps


cpu, sim = steps("cpu/metrics.jsonl"), steps("sim/metrics.jsonl")
assert len(cpu) == len(sim) == 4, (len(cpu), len(sim))
for c, s in zip(cpu, sim):
    for k in ("loss", "grad_norm", "val_loss", "eval_accuracy"):
        if k in c or k in s:
            assert c.get(k) == s.get(k), f"step {c['step']} {k}: cpu {c.get(k)!r} sim {s.get(k)!r}"
for s in sim + steps("sim_accum4/metrics.jsonl"):
    # Budget: one read per step, whatever grad_accum is: the step's loss
    # (summed over its micro-batches on the device) comes back in the same
    # copy as the grad norm for clipping.
    assert s["host_syncs"] == 1, f"step {s['step']}: {s['host_syncs']} host syncs on sim, budget 1"
    assert s["host_syncs"] >= 1, f"step {s['step']}: no host sync counted on sim: the counter is broken"


for run in ("sim", "cpu_from_sim", "sim_from_cpu"):
    assert_same_datasets("cpu/model.h5", f"{run}/model.h5", f"{run} against cpu")
print("sim == cpu bitwise: 4 steps, final weights, cross-device resume; host_syncs", [s["host_syncs"] for s in sim],
      "at grad_accum 4:", [s["host_syncs"] for s in steps("sim_accum4/metrics.jsonl")])
PY
