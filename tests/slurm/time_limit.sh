#!/usr/bin/env bash
# A job killed at its time limit resumes from its last checkpoint: job 1
# (--time=1, 2 ranks, dp=2, a checkpoint every 10 steps) stalls in step 25
# (POUCH_FAULT sleep on rank 0, so no step boundary comes before KillWait's
# SIGKILL); Slurm ends it TIMEOUT. Job 2, submitted with
# --dependency=afterany on job 1 (what --chain does), resumes step 20's
# checkpoint and finishes with weights bitwise equal to an uninterrupted run.
# usage (inside slurm/local_slurm.sh): time_limit.sh POUCH
set -euo pipefail
pouch=$1
source "$(dirname "$0")/job_helpers.sh"
dir=$(mktemp -d)
trap '[[ -n ${KEEP:-} ]] || rm -rf "$dir"' EXIT
cd "$dir"
args=("${tiny[@]}" --phase.1.steps=40 --parallel.dp=2 --train.threads=1 --checkpoint.every_steps=10
  --parallel.timeout_s=600)
srun --mpi=pmix -n 2 "$pouch" train "${args[@]}" --train.run_dir="$dir/reference" > reference.log 2>&1 ||
  { show_logs reference.log; exit 1; }
start=$SECONDS
first=$(POUCH_FAULT=sleep:0:25:600 "$pouch" slurm submit --ntasks=2 --time=1 --job-name=limit --log-dir="$dir/logs" \
  -- "${args[@]}" --train.run_dir="$dir/run")
second=$("$pouch" slurm submit --ntasks=2 --job-name=limit --dependency=afterany:"$first" --log-dir="$dir/logs" \
  -- "${args[@]}" --train.run_dir="$dir/run")
echo "jobs $first (time limit 1 min) and $second (after it)"
wait_job "$first" 150 TIMEOUT COMPLETED FAILED CANCELLED || { show_logs logs/*; exit 1; }
echo "job $first ended $(job_field "$first" JobState) after $((SECONDS - start)) s"
[[ $(job_field "$first" JobState) == TIMEOUT ]] || { show_logs logs/*; echo "FAIL: want TIMEOUT"; exit 1; }
wait_job "$second" 60 COMPLETED FAILED CANCELLED || { show_logs logs/*; exit 1; }
echo "job $second ended $(job_field "$second" JobState) $(job_field "$second" ExitCode) after $((SECONDS - start)) s"
[[ $(job_field "$second" JobState) == COMPLETED ]] || { show_logs logs/*; echo "FAIL: want COMPLETED"; exit 1; }
grep -h "resumed from" logs/limit-"$second"-rank0.out
grep -q "resumed from .*step-00000020.* at step 20" logs/limit-"$second"-rank0.out ||
  { show_logs logs/*; echo "FAIL: job $second did not resume step 20's checkpoint"; exit 1; }
same_weights "$dir/reference/model.h5" "$dir/run/model.h5" "run resumed after the time limit vs uninterrupted"
echo PASS
