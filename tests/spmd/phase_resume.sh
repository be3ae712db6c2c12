#!/usr/bin/env bash
# Resume inside a phase: a two-phase schedule (pretrain with a curriculum,
# quality sampling and bf16, then KIND) run straight, against the same run
# stopped by SIGUSR1 inside phase 1 (KIND = pretrain) or phase 2 (exit 75;
# KIND = watch is continual with watch_dir)
# and continued with --resume=auto. Every metrics value but timings and
# every dataset of the final checkpoint (/model, /optim, /phase, /data_f64)
# must be bitwise equal on one rank, within 1e-5 relative at tp=2.
# usage: phase_resume.sh POUCH MPIEXEC KIND TP
set -euo pipefail
pouch=$1 mpiexec=$2 kind=$3 tp=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
cat > run.ini <<INI
[model]
layers = 2
d_model = 32
heads = 2
seq_len = 48
vocab_size = 31
[train]
batch_size = 4
threads = 1
eval_every = 0
[data]
task_train_samples = 2000
task_eval_per_level = 4
[optim]
lr = 3e-3
warmup_steps = 2
[log]
peak_gflops = 100
[parallel]
timeout_s = 120
[checkpoint]
every_steps = 2
keep_last = 2
[phase.1]
kind = pretrain
steps = 6
curriculum = root
quality_sampling = true
source_weights = simple*0.8@epoch<10; complex*1.5@epoch>=10
precision = bf16
INI
case "$kind" in
  pretrain) stop_at=3 ;;
  ppo|grpo)
    stop_at=8
    printf '[phase.2]\nkind = %s\nsteps = 4\nprompts_per_step = 4\nsamples_per_prompt = 2\nmax_new_tokens = 24\n' \
      "$kind" >> run.ini ;;
  continual)
    stop_at=8
    printf '[phase.2]\nkind = continual\nsteps = 4\nnew_samples = 500\npublish_every = 2\nlora_rank = 2\n' >> run.ini ;;
  watch)
    # kind = continual learning from a directory: two files there before the
    # start (the ledger and the pending tokens must survive the stop).
    stop_at=8
    mkdir inbox
    for i in $(seq 10 99); do printf '%d+%d=%d\n\n' "$i" "$((i % 7))" "$((i + i % 7))"; done > inbox/a.txt
    for i in $(seq 10 60); do printf '{"text": "%d*2=%d"}\n' "$i" "$((2 * i))"; done > inbox/b.jsonl
    printf '[phase.2]\nkind = continual\nsteps = 4\nwatch_dir = inbox\nidle_timeout_s = 0\npublish_every = 2\nlora_rank = 2\n' \
      >> run.ini ;;
  *) echo "unknown kind $kind"; exit 2 ;;
esac
run() {  # run RUN_DIR [extra...]
  local out=$1
  shift
  if ((tp == 1)); then
    "$pouch" train --config run.ini --train.run_dir="$out" "$@"
  else
    "$mpiexec" -np "$tp" --oversubscribe --allow-run-as-root -x POUCH_FAULT \
      "$pouch" train --config run.ini --parallel.tp="$tp" --train.run_dir="$out" "$@"
  fi
}
run straight > straight.log 2>&1 || { tail -30 straight.log; echo "FAIL: the straight run failed"; exit 1; }
if [[ $kind == watch ]] && ! grep -q "watch: learning a.txt (90 documents" straight.log; then
  tail -30 straight.log; echo "FAIL: the watched directory's a.txt was not learned"; exit 1
fi
set +e
POUCH_FAULT=signal:0:$stop_at:10 run stopped > stopped.log 2>&1
status=$?
set -e
if ((status != 75)); then tail -30 stopped.log; echo "FAIL: the stopped run exited $status, expected 75"; exit 1; fi
run stopped --resume=auto > resumed.log 2>&1 || { tail -30 resumed.log; echo "FAIL: the resumed run failed"; exit 1; }
grep -q "resumed from .*step $stop_at" resumed.log || { tail -30 resumed.log; echo "FAIL: not resumed at step $stop_at"; exit 1; }
/usr/bin/python3 - straight stopped "$tp" <<'PY'
import json, sys
import h5py, numpy as np
a, b, tp = sys.argv[1], sys.argv[2], int(sys.argv[3])
timing = {"elapsed_s", "tokens_per_s", "mfu", "checkpoint_s", "comm_wait_s", "step_s", "watch_wait_s"}
def lines(run):
    return [{k: v for k, v in json.loads(l).items() if k not in timing} for l in open(f"{run}/metrics.jsonl")]
la, lb = lines(a), lines(b)
assert [l["step"] for l in la] == [l["step"] for l in lb], "the runs logged different steps"
def close(x, y):
    if tp == 1:
        return x == y
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return abs(x - y) <= 1e-5 * max(1.0, abs(x), abs(y))
    return x == y
for x, y in zip(la, lb):
    for k in x:
        assert k in y and close(x[k], y[k]), f"step {x['step']}: {k} = {x[k]} vs {y.get(k)}"
last = la[-1]["step"]
with h5py.File(f"{a}/checkpoints/step-{last:08d}/state.h5") as f, \
     h5py.File(f"{b}/checkpoints/step-{last:08d}/state.h5") as g:
    names = []
    f.visit(lambda n: names.append(n) if isinstance(f[n], h5py.Dataset) else None)
    checked = 0
    for n in names:
        if not n.startswith(("model/", "optim/", "phase/", "data_f64/")):
            continue
        x, y = f[n][...], g[n][...]
        if tp == 1:
            assert x.tobytes() == y.tobytes(), f"{n} differs"
        else:
            assert np.allclose(x, y, rtol=1e-5, atol=1e-7), f"{n} differs by {np.abs(x - y).max()}"
        checked += 1
print(f"   {len(la)} metrics lines and {checked} checkpoint datasets {'bitwise identical' if tp == 1 else 'within 1e-5'}")
PY
echo "PASS: resume inside the $kind phase at step $stop_at (tp=$tp)"
