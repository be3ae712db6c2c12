#!/usr/bin/env bash
# Checkpoint and resume.
#   bitexact TP DP : 20 steps straight vs 10 steps, stop (SIGUSR1 at step 10,
#                    exit 75), --resume=auto, 10 more: per-step losses and
#                    every dataset of the final checkpoint (weights, AdamW
#                    moments) bitwise identical.
#   reshard        : a run stopped at tp=2 resumes at tp=1 and at tp=4; the
#                    losses continue within 1e-5 relative of the tp=2 run.
#   finished       : --resume=auto on a finished run exits 0 at once, saying so.
#   sigusr1        : SIGUSR1 sent to mpirun -np 2 mid-run: checkpoint, exit 75,
#                    then --resume=auto ends bitwise where a straight run does.
# usage: resume.sh POUCH MPIEXEC MODE [TP DP]
set -euo pipefail
pouch=$1 mpiexec=$2 mode=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
args=(--model.layers=2 --model.d_model=24 --model.heads=4 --model.seq_len=16 --model.vocab_size=37
      --train.batch_size=4 --train.grad_accum=2 --phases=1 --phase.1.steps=20 --train.threads=1 --train.eval_every=0
      --data.task_train_samples=2000 --optim.lr=3e-3 --optim.warmup_steps=2 --log.peak_gflops=100
      --parallel.bucket_mb=0.01 --parallel.timeout_s=60 --checkpoint.keep_last=2 --checkpoint.every_steps=3)
run() {  # run TP DP RUN_DIR [extra...]
  local tp=$1 dp=$2 out=$3
  shift 3
  if ((tp * dp == 1)); then
    "$pouch" train "${args[@]}" --train.run_dir="$out" "$@"
  else
    "$mpiexec" -np $((tp * dp)) --oversubscribe --allow-run-as-root -x POUCH_FAULT \
      "$pouch" train "${args[@]}" --parallel.tp="$tp" --parallel.dp="$dp" --train.run_dir="$out" "$@"
  fi
}
expect_status() {  # expect_status WANT command...
  local want=$1
  shift
  set +e
  "$@" > out.log 2>&1
  local got=$?
  set -e
  if [[ $got -ne $want ]]; then tail -30 out.log; echo "FAIL: exit status $got, expected $want"; exit 1; fi
}
compare() {  # compare RUN_A RUN_B bitwise|close
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
import h5py, numpy as np
a, b, how = sys.argv[1:4]
la = [json.loads(l)["loss"] for l in open(f"{a}/metrics.jsonl")]
lb = [json.loads(l)["loss"] for l in open(f"{b}/metrics.jsonl")]
assert [json.loads(l)["step"] for l in open(f"{b}/metrics.jsonl")] == list(range(1, 21)), "steps are not 1..20"
if how == "bitwise":
    assert la == lb, f"losses differ:\n{la}\n{lb}"
    with h5py.File(f"{a}/checkpoints/step-00000020/state.h5") as f, \
         h5py.File(f"{b}/checkpoints/step-00000020/state.h5") as g:
        names = []
        f.visit(lambda n: names.append(n) if isinstance(f[n], h5py.Dataset) else None)
        assert any(n.startswith("optim/") for n in names), "no optimizer moments in the checkpoint"
        for n in names:
            if n.startswith(("model/", "optim/")):
                assert f[n][...].tobytes() == g[n][...].tobytes(), f"{n} differs"
        print(f"   {len(la)} losses and {len(names)} datasets bitwise identical")
else:
    worst = max(abs(x - y) / abs(x) for x, y in zip(la, lb))
    assert worst <= 1e-5, f"losses differ by {worst:.2e} relative:\n{la}\n{lb}"
    print(f"   losses within {worst:.1e} relative")
PY
}

case "$mode" in
  bitexact)
    tp=$4 dp=$5
    run "$tp" "$dp" straight > /dev/null
    export POUCH_FAULT=signal:0:10:10
    expect_status 75 run "$tp" "$dp" stopped
    grep -q "stopped by signal 10 after step 10" out.log
    unset POUCH_FAULT
    export POUCH_FAULT=
    expect_status 0 run "$tp" "$dp" stopped --resume=auto
    grep -q "resumed from .*step-00000010" out.log
    compare straight stopped bitwise
    ;;
  reshard)
    run 2 1 ref > /dev/null
    for tp in 1 4; do
      mkdir -p r$tp
      export POUCH_FAULT=signal:0:10:10
      expect_status 75 run 2 1 r$tp
      export POUCH_FAULT=
      expect_status 0 run "$tp" 1 r$tp --resume=auto
      echo "== tp 2 -> tp $tp"
      compare ref r$tp close
    done
    ;;
  finished)
    run 1 1 done > /dev/null
    expect_status 0 run 1 1 done --resume=auto
    grep -q "the run already finished" out.log
    if grep -q "^step" out.log; then echo "FAIL: it trained again"; exit 1; fi
    echo "   a finished run exits at once"
    ;;
  sigusr1)
    export POUCH_FAULT=
    run 1 2 straight > /dev/null
    # Rank 0 pauses 3 s at the start of step 5, so the signal lands mid-run;
    # mpirun forwards SIGUSR1 to every rank.
    POUCH_FAULT=sleep:0:5:3 "$mpiexec" -np 2 --oversubscribe --allow-run-as-root -x POUCH_FAULT "$pouch" train \
      "${args[@]}" --parallel.dp=2 --train.run_dir=stopped > out.log 2>&1 &
    pid=$!
    for _ in $(seq 1 500); do
      [[ -f stopped/metrics.jsonl && $(wc -l < stopped/metrics.jsonl) -ge 4 ]] && break
      sleep 0.01
    done
    kill -USR1 $pid
    set +e
    wait $pid
    status=$?
    set -e
    if [[ $status -ne 75 ]]; then cat out.log; echo "FAIL: exit status $status, expected 75"; exit 1; fi
    grep -q "stopped by signal 10 after step" out.log
    grep "stopped by signal" out.log
    expect_status 0 run 1 2 stopped --resume=auto
    grep "resumed from" out.log
    compare straight stopped bitwise
    ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
echo PASS
