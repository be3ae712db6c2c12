#!/usr/bin/env bash
# Mixed precision on the simulated device against the CPU: bf16 and fp16
# (dynamic loss scale, growing every 2 steps) pretraining runs. The backend owns the working copy (rounded on the
# compute stream), the unscale-and-check and the activation rounding, so
# every step's loss, grad norm, loss scale and skip, and the final weights,
# must be bitwise those of runtime.device = cpu, with random delays on; and a
# bf16 checkpoint written on sim resumes on cpu to the same final weights.
# usage: e2e_sim_mixed_precision.sh POUCH
set -euo pipefail
pouch=$1
support=$(cd "$(dirname "${BASH_SOURCE[0]}")/../support" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
args=(--model.layers=2 --model.d_model=32 --model.heads=2 --model.seq_len=32 --train.batch_size=4
      --train.threads=1 --train.eval_every=3 --data.task_train_samples=2000 --data.task_eval_per_level=2
      --log.peak_gflops=100 --checkpoint.every_steps=3 --phases=1 --phase.1.steps=6)
for prec in bf16 fp16; do
  extra=(--phase.1.precision=$prec)
  [[ $prec == fp16 ]] && extra+=(--phase.1.loss_scale_init=65536 --phase.1.loss_scale_window=2)
  "$pouch" train "${args[@]}" "${extra[@]}" --train.run_dir=cpu_$prec --runtime.device=cpu > cpu_$prec.log 2>&1
  POUCH_SIM_DELAY_US=0:30 "$pouch" train "${args[@]}" "${extra[@]}" --train.run_dir=sim_$prec --runtime.device=sim \
    > sim_$prec.log 2>&1
done
"$pouch" train "${args[@]}" --phase.1.precision=bf16 --train.run_dir=cpu_from_sim --runtime.device=cpu \
  --resume=sim_bf16/checkpoints/step-00000003 > cpu_from_sim.log 2>&1
grep -q "resumed from .*sim_bf16/checkpoints/step-00000003" cpu_from_sim.log

PYTHONPATH="$support" /usr/bin/python3 - <<'PY'
from run_outputs import assert_same_datasets, steps



for prec in ("bf16", "fp16"):
    cpu, sim = steps(f"cpu_{prec}/metrics.jsonl"), steps(f"sim_{prec}/metrics.jsonl")
    assert len(cpu) == len(sim) == 6, (prec, len(cpu), len(sim))
    for c, s in zip(cpu, sim):
        for k in ("loss", "grad_norm", "val_loss", "eval_accuracy", "loss_scale", "skipped", "skipped_steps"):
            assert c.get(k) == s.get(k), f"{prec} step {c['step']} {k}: cpu {c.get(k)!r} sim {s.get(k)!r}"
        # The non-finite-gradient flag (checked under bf16 too: a NaN gradient
        # skips the step), then the loss and the grad norm in one read.
        budget = 2
        assert 1 <= s["host_syncs"] <= budget, f"{prec} step {s['step']}: {s['host_syncs']} host syncs, budget {budget}"
    if prec == "fp16":
        scales = [s["loss_scale"] for s in sim]
        assert scales[-1] > scales[0], f"the loss scale never grew: {scales}"
    assert_same_datasets(f"cpu_{prec}/model.h5", f"sim_{prec}/model.h5", f"{prec}, sim against cpu")
    print(prec, "sim == cpu bitwise over", len(sim), "steps; host_syncs", [s["host_syncs"] for s in sim],
          "loss scales", [s.get("loss_scale") for s in sim])
assert_same_datasets("cpu_bf16/model.h5", "cpu_from_sim/model.h5", "bf16, a sim checkpoint resumed on cpu")
print("bf16 checkpoint sim -> cpu: final weights bitwise")
PY
