#!/usr/bin/env bash
# Preemption end to end on the local Slurm: `pouch slurm submit` (2 ranks,
# tp=2); once the run is past step 20 (of 1500, ~5 s), `scancel --signal=USR1 --batch` (what
# --signal=B:USR1@LEAD delivers); every rank checkpoints at its next step
# boundary and exits 75, the batch shell requeues the job, which starts
# again, resumes the checkpoint and finishes: one restart, and final weights
# bitwise equal to an uninterrupted run. With `array`, the job is array task
# 0 of --array=0 and the batch shell must requeue JOBID_0, that task alone.
# usage (inside slurm/local_slurm.sh): requeue.sh POUCH [array]
set -euo pipefail
pouch=$1 mode=${2:-job}
sbatch_opts=(--ntasks=2 --job-name=requeue)
[[ $mode == array ]] && sbatch_opts+=(--array=0)
source "$(dirname "$0")/job_helpers.sh"
dir=$(mktemp -d)
trap '[[ -n ${KEEP:-} ]] || rm -rf "$dir"' EXIT
cd "$dir"
args=("${tiny[@]}" --phase.1.steps=1500 --parallel.tp=2 --train.threads=1)
start=$SECONDS
srun --mpi=pmix -n 2 "$pouch" train "${args[@]}" --train.run_dir="$dir/reference" > reference.log 2>&1 ||
  { show_logs reference.log; exit 1; }
echo "uninterrupted run: $((SECONDS - start)) s"
id=$("$pouch" slurm submit "${sbatch_opts[@]}" --log-dir="$dir/logs" -- "${args[@]}" --train.run_dir="$dir/run")
# An array task's own job id names its logs; JOBID_0 is what must be requeued.
requeue_name=$id
if [[ $mode == array ]]; then
  requeue_name=${id}_0
  wait_job "$requeue_name" 30 RUNNING
  id=$(scontrol show job "$requeue_name" | tr ' ' '\n' | sed -n 's/^JobId=//p' | head -n 1)
fi
echo "job $requeue_name (job id $id)"
wait_job "$id" 30 RUNNING
wait_steps "$dir/run/metrics.jsonl" 20 60 || { show_logs logs/*; exit 1; }
t_signal=$SECONDS
scancel --signal=USR1 --batch "$id"
wait_job "$id" 120 COMPLETED FAILED CANCELLED || { show_logs logs/*; exit 1; }
echo "signal to finish (checkpoint, requeue, wait, resume, rest of the run): $((SECONDS - t_signal)) s"
show_logs logs/requeue-"$id".out
[[ $(job_field "$id" JobState) == COMPLETED && $(job_field "$id" ExitCode) == 0:0 ]] ||
  { echo "FAIL: job ended $(job_field "$id" JobState) $(job_field "$id" ExitCode)"; show_logs logs/*; exit 1; }
[[ $(job_field "$id" Restarts) == 1 ]] || { echo "FAIL: Restarts=$(job_field "$id" Restarts), want 1"; exit 1; }
grep -q "requeueing $requeue_name\$" logs/requeue-"$id".out || { echo "FAIL: the batch shell did not requeue"; exit 1; }
grep -q "resumed from" logs/requeue-"$id"-rank0.out || { echo "FAIL: the second start did not resume"; exit 1; }
grep -h "stopped by signal\|resumed from" logs/requeue-"$id"-rank0.out
same_weights "$dir/reference/model.h5" "$dir/run/model.h5" "requeued run vs uninterrupted"
echo PASS
