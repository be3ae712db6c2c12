#!/usr/bin/env bash
# A failing rank ends the job with a non-zero exit in the job records: rank 1
# throws in step 3 (POUCH_FAULT), the step is cancelled, the batch script
# passes pouch's status on (not 75: no requeue), and both `scontrol show job`
# and the jobcomp record say FAILED with a non-zero exit code.
# usage (inside slurm/local_slurm.sh): failing_rank.sh POUCH
set -euo pipefail
pouch=$1
source "$(dirname "$0")/job_helpers.sh"
dir=$(mktemp -d)
trap '[[ -n ${KEEP:-} ]] || rm -rf "$dir"' EXIT
cd "$dir"
id=$(POUCH_FAULT=throw:1:3 "$pouch" slurm submit --ntasks=2 --job-name=fault --log-dir="$dir/logs" \
  -- "${tiny[@]}" --phase.1.steps=20 --parallel.tp=2 --train.run_dir="$dir/run")
wait_job "$id" 60 COMPLETED FAILED CANCELLED || { show_logs logs/*; exit 1; }
state=$(job_field "$id" JobState) code=$(job_field "$id" ExitCode)
echo "job $id: $state, ExitCode $code"
show_logs logs/fault-"$id".out
[[ $state == FAILED && $code != 0:0 && $code != 75:0 ]] || { echo "FAIL: want FAILED with a non-zero exit"; exit 1; }
[[ $(job_field "$id" Restarts) == 0 ]] || { echo "FAIL: a failed job was requeued"; exit 1; }
record=$(grep "JobId=$id " "$POUCH_SLURM_DIR/jobcomp.txt") || { echo "FAIL: no jobcomp record for $id"; exit 1; }
echo "jobcomp: $record"
grep -q "JobState=FAILED" <<< "$record" && ! grep -q "ExitCode=0:0" <<< "$record" ||
  { echo "FAIL: the jobcomp record does not say FAILED with a non-zero exit"; exit 1; }
grep -q "injected" logs/fault-"$id"-rank1.out || { echo "FAIL: rank 1's log does not name the fault"; exit 1; }
echo PASS
