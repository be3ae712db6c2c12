#!/usr/bin/env bash
# runtime.device = sim against cpu under mpirun, with tensor and data
# parallelism: every collective on device tensors goes through the staged
# communicator (parallel/staged_communicator.h) with the sim device's random
# delays on, so each step's loss, grad norm and eval, and the final weights,
# must be bitwise the cpu run's. Then the test-only switch that drops the
# wait of one group (POUCH_TEST_SKIP_COMM_WAIT) must change the numbers:
# the sim device catches a missing wait.
# usage: sim_device.sh POUCH MPIEXEC tp2|tp2dp2
#   tp2:    2 ranks, tp=2; also a checkpoint written on sim resumed on cpu and
#           the reverse, to the same final weights; drops the tp wait.
#   tp2dp2: 4 ranks, tp=2 x dp=2; drops the dp wait.
set -euo pipefail
pouch=$1 mpiexec=$2 mode=$3
support=$(cd "$(dirname "${BASH_SOURCE[0]}")/../support" && pwd)
dir=$(mktemp -d)
trap '[[ -n ${KEEP_DIR:-} ]] || rm -rf "$dir"' EXIT
cd "$dir"
args=(--model.layers=2 --model.d_model=32 --model.heads=2 --model.seq_len=32 --train.batch_size=4
      --train.grad_accum=2 --train.threads=1 --train.eval_every=2 --data.task_train_samples=2000
      --data.task_eval_per_level=2 --log.peak_gflops=100 --checkpoint.every_steps=2 --phases=1 --phase.1.steps=4
      --parallel.bucket_mb=0.01 --parallel.timeout_s=60 --parallel.tp=2)
case $mode in
  tp2) np=2 skip=tp ;;
  tp2dp2) np=4 skip=dp ;;
  *) echo "sim_device.sh: unknown mode '$mode' (tp2, tp2dp2)" >&2; exit 2 ;;
esac
run() {  # run DIR DEVICE [ENV=VALUE...] -- [more args]
  local out=$1 device=$2
  shift 2
  local envs=(-x POUCH_SIM_DELAY_US=0:30)
  while (($#)) && [[ $1 != -- ]]; do envs+=(-x "$1"); shift; done
  (($#)) && shift
  "$mpiexec" -np $np --oversubscribe --allow-run-as-root "${envs[@]}" \
    "$pouch" train "${args[@]}" --train.run_dir="$out" --runtime.device="$device" "$@" > "$out.log" 2>&1 ||
    { echo "run $out failed:"; tail -20 "$out.log"; exit 1; }
}
run cpu cpu
run sim sim
grep -q "device: sim (runtime.device = sim)" sim.log
resumed=()
if [[ $mode == tp2 ]]; then
  run cpu_from_sim cpu -- --resume=sim/checkpoints/step-00000002
  run sim_from_cpu sim -- --resume=cpu/checkpoints/step-00000002
  grep -q "resumed from .*sim/checkpoints/step-00000002" cpu_from_sim.log
  grep -q "resumed from .*cpu/checkpoints/step-00000002" sim_from_cpu.log
  resumed=(cpu_from_sim sim_from_cpu)
fi
run skipped sim POUCH_TEST_SKIP_COMM_WAIT=$skip

PYTHONPATH="$support" /usr/bin/python3 - "$skip" "${resumed[@]}" <<'PY'
import sys
from run_outputs import assert_same_datasets, datasets, steps

skip, resumed = sys.argv[1], sys.argv[2:]



cpu, sim = steps("cpu/metrics.jsonl"), steps("sim/metrics.jsonl")
assert len(cpu) == len(sim) == 4, (len(cpu), len(sim))
for c, s in zip(cpu, sim):
    for k in ("loss", "grad_norm", "val_loss", "eval_accuracy"):
        assert c.get(k) == s.get(k), f"step {c['step']} {k}: cpu {c.get(k)!r} sim {s.get(k)!r}"
assert all("comm_host_blocks" not in c for c in cpu), "comm_host_blocks in a cpu run's metrics"
blocks = [s["comm_host_blocks"] for s in sim]
assert sum(blocks) >= 1, f"no wait on a staged collective blocked the host: the counter is broken ({blocks})"
for run in ["sim"] + resumed:
    assert_same_datasets("cpu/model.h5", f"{run}/model.h5", f"{run} against cpu")

bad = steps("skipped/metrics.jsonl")
assert len(bad) == 4, len(bad)
same = all(c.get("loss") == b.get("loss") and c.get("grad_norm") == b.get("grad_norm") for c, b in zip(cpu, bad))
assert not same, f"dropping the {skip} wait went unnoticed on sim: the numbers equal cpu's"
assert datasets("skipped/model.h5") != datasets("cpu/model.h5"), f"dropping the {skip} wait left the final weights as cpu's"
print(f"sim == cpu bitwise (4 steps, final weights{', cross-device resume' if resumed else ''}); "
      f"comm_host_blocks per step {blocks}; "
      f"dropped {skip} wait caught: losses {[b['loss'] for b in bad]} vs {[c['loss'] for c in cpu]}")
PY
