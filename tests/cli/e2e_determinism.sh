#!/usr/bin/env bash
# Two runs with the same seed are bitwise identical (every loss in the
# metrics, every weight), and so is a run with activation checkpointing.
# usage: e2e_determinism.sh POUCH
set -euo pipefail
pouch=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
args=(--model.layers=2 --model.d_model=32 --model.heads=2 --model.seq_len=48 --train.batch_size=3
      --train.grad_accum=2 --phases=1 --phase.1.steps=8 --data.task_train_samples=3000 --log.peak_gflops=100)
"$pouch" train "${args[@]}" --train.run_dir=a > /dev/null
"$pouch" train "${args[@]}" --train.run_dir=b > /dev/null
"$pouch" train "${args[@]}" --train.run_dir=c --train.recompute=true > /dev/null
losses() { /usr/bin/python3 -c "import json,sys; print([json.loads(l)['loss'] for l in open(sys.argv[1])])" "$1"; }
# Every dataset of /model bitwise equal (attributes differ: the config names the run directory).
same_weights() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as a, h5py.File(sys.argv[2]) as b:
    names = sorted(a["model"].keys())
    assert names == sorted(b["model"].keys())
    sys.exit(0 if all(np.array_equal(a["model"][n][...].view("u4"), b["model"][n][...].view("u4")) for n in names) else 1)
PY
}
for run in b c; do
  if [[ "$(losses a/metrics.jsonl)" != "$(losses $run/metrics.jsonl)" ]]; then
    echo "losses of run $run differ:"; losses a/metrics.jsonl; losses $run/metrics.jsonl; exit 1
  fi
  same_weights a/model.h5 $run/model.h5 || { echo "weights of run $run differ"; exit 1; }
done
# A different seed must change them, or the comparison above proves nothing.
"$pouch" train "${args[@]}" --train.run_dir=d --train.seed=7 > /dev/null
if same_weights a/model.h5 d/model.h5; then echo "a different seed gave the same weights"; exit 1; fi
echo "bitwise identical: same seed, and recompute on/off"
