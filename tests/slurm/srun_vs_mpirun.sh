#!/usr/bin/env bash
# The affinity regression test: on the local Slurm (TaskPlugin=task/none, so
# srun hands both ranks all cores), `srun --mpi=pmix -n 2` must give bitwise
# the per-step losses of `mpirun -np 2` (which binds one core per rank), at
# tp=2 and at dp=2: the ranks divide the cores they share, so each runs the
# same thread count as under mpirun, hence the same GEMM summation order.
# Both are checked: the thread count every rank reports ("N threads each" in
# the schedule line, which main's code printed before the fix too: 2 under
# srun, 1 under mpirun) and the losses (at this model size OpenBLAS's
# summation happens to agree between 1 and 2 threads, so the count is what
# catches a rank taking all cores).
# usage (inside slurm/local_slurm.sh): srun_vs_mpirun.sh POUCH MPIEXEC
set -euo pipefail
pouch=$1 mpiexec=$2
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap '[[ -n ${KEEP:-} ]] || rm -rf "$dir"' EXIT
tiny=(--model.layers=2 --model.d_model=32 --model.heads=2 --model.seq_len=32 --train.batch_size=4
  --data.task_train_samples=2000 --data.task_eval_per_level=2 --phases=1 --phase.1.steps=20
  --train.eval_every=0 --log.peak_gflops=100)
for layout in tp dp; do
  srun --mpi=pmix -n 2 "$pouch" train "${tiny[@]}" --parallel.$layout=2 --train.run_dir="$dir/srun-$layout" \
    > "$dir/srun-$layout.log" 2>&1 || { tail -n 20 "$dir/srun-$layout.log"; exit 1; }
  "$mpiexec" -np 2 --oversubscribe --allow-run-as-root "$pouch" train "${tiny[@]}" --parallel.$layout=2 \
    --train.run_dir="$dir/mpirun-$layout" > "$dir/mpirun-$layout.log" 2>&1 || { tail -n 20 "$dir/mpirun-$layout.log"; exit 1; }
  grep -h "compute threads" "$dir/srun-$layout.log" "$dir/srun-$layout/logs/rank1.log" || true
  for rank_log in "$layout.log" "$layout/logs/rank1.log"; do
    want=$(grep -o "[0-9]* threads each" "$dir/mpirun-$rank_log")
    got=$(grep -o "[0-9]* threads each" "$dir/srun-$rank_log")
    [[ -n $want && $got == "$want" ]] || { echo "FAIL: $layout=2 $rank_log: mpirun '$want', srun '$got'"; exit 1; }
  done
  PYTHONPATH="$here/../support" /usr/bin/python3 "$here/same_losses.py" "$dir/mpirun-$layout/metrics.jsonl" \
    "$dir/srun-$layout/metrics.jsonl" "$layout=2, srun vs mpirun"
done
echo PASS
