#!/usr/bin/env bash
# A rank that dies, hangs or throws in the middle of training must bring the
# whole mpirun job down with a non-zero exit, within 2 x parallel.timeout_s,
# and say why. usage: fault.sh POUCH MPIEXEC kill|sleep|throw [POUCH ARGS...]
# (extra arguments go to pouch train: e.g. --runtime.device=sim
# --parallel.tp=2, where the stalled collective is a staged one)
set -uo pipefail
pouch=$1 mpiexec=$2 mode=$3
shift 3
timeout_s=3
case "$mode" in
  kill) fault=kill:1:3 want="rank 1 .*exited on signal 9|signal 9" ;;
  sleep) fault=sleep:1:3:60 want="waiting for rank 1" ;;
  throw) fault=throw:1:3 want="rank 1: aborting the job: .*injected" ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
start=$(date +%s%N)
POUCH_FAULT=$fault timeout 120 "$mpiexec" -np 2 --oversubscribe --allow-run-as-root -x POUCH_FAULT \
  "$pouch" train --model.layers=1 --model.d_model=32 --model.heads=2 --model.seq_len=32 --phases=1 --phase.1.steps=50 \
  --train.threads=1 --train.eval_every=0 --data.task_train_samples=2000 --log.peak_gflops=100 \
  --parallel.timeout_s=$timeout_s --train.run_dir="$dir/run" "$@" > "$dir/out.log" 2>&1
status=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
cat "$dir/out.log" | tail -n 30
echo "--- exit status $status after $elapsed_ms ms"
[[ $status -ne 0 ]] || { echo "FAIL: the job exited 0"; exit 1; }
[[ $status -ne 124 ]] || { echo "FAIL: the job hung (killed by timeout)"; exit 1; }
grep -Eq "$want" "$dir/out.log" || { echo "FAIL: no /$want/ in the output"; exit 1; }
# Startup and the first steps take ~1 s; the deadline itself at most 2 x timeout.
if ((elapsed_ms > (2 * timeout_s + 4) * 1000)); then echo "FAIL: took $elapsed_ms ms"; exit 1; fi
if [[ $mode == sleep ]]; then
  grep -q "flight record of rank 0" "$dir/out.log" || { echo "FAIL: no flight record"; exit 1; }
fi
echo PASS
