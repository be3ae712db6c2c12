#!/usr/bin/env bash
# Chained jobs with the mpirun launcher: `pouch slurm submit --chain=3
# --launcher=mpirun` (no requeue); USR1 to job 1's batch shell mid-run: every
# rank checkpoints and job 1 ends with 75, job 2 (afterany) resumes and
# finishes, job 3 finds the run finished and exits 0; the final weights are
# bitwise those of an uninterrupted run.
# usage (inside slurm/local_slurm.sh): chain.sh POUCH
set -euo pipefail
pouch=$1
source "$(dirname "$0")/job_helpers.sh"
dir=$(mktemp -d)
trap '[[ -n ${KEEP:-} ]] || rm -rf "$dir"' EXIT
cd "$dir"
# mpirun refuses root without these (sbatch passes the environment on).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
args=("${tiny[@]}" --phase.1.steps=1500 --parallel.dp=2 --train.threads=1)
srun --mpi=pmix -n 2 "$pouch" train "${args[@]}" --train.run_dir="$dir/reference" > reference.log 2>&1 ||
  { show_logs reference.log; exit 1; }
mapfile -t ids < <("$pouch" slurm submit --chain=3 --launcher=mpirun --ntasks=2 --job-name=chain \
  --log-dir="$dir/logs" -- "${args[@]}" --train.run_dir="$dir/run")
((${#ids[@]} == 3)) || { echo "FAIL: want 3 job ids, got '${ids[*]}'"; exit 1; }
echo "jobs ${ids[*]}"
[[ $(job_field "${ids[1]}" Dependency) == afterany:${ids[0]}* ]] ||
  { echo "FAIL: job ${ids[1]} depends on '$(job_field "${ids[1]}" Dependency)'"; exit 1; }
wait_job "${ids[0]}" 30 RUNNING
wait_steps "$dir/run/metrics.jsonl" 20 60 || { show_logs logs/*; exit 1; }
scancel --signal=USR1 --batch "${ids[0]}"
wait_job "${ids[2]}" 90 COMPLETED FAILED CANCELLED || { show_logs logs/*; exit 1; }
for id in "${ids[@]}"; do echo "job $id: $(job_field "$id" JobState) $(job_field "$id" ExitCode) Restarts=$(job_field "$id" Restarts)"; done
[[ $(job_field "${ids[0]}" ExitCode) == 75:0 && $(job_field "${ids[0]}" Restarts) == 0 ]] ||
  { show_logs logs/*; echo "FAIL: job ${ids[0]} should end 75:0, not requeued"; exit 1; }
for id in "${ids[1]}" "${ids[2]}"; do
  [[ $(job_field "$id" JobState) == COMPLETED ]] || { show_logs logs/*; echo "FAIL: job $id did not complete"; exit 1; }
done
grep -q "resumed from" logs/chain-"${ids[1]}".out || { show_logs logs/*; echo "FAIL: job ${ids[1]} did not resume"; exit 1; }
grep -q "already finished" logs/chain-"${ids[2]}".out || { show_logs logs/*; echo "FAIL: job ${ids[2]} trained again"; exit 1; }
same_weights "$dir/reference/model.h5" "$dir/run/model.h5" "chained run vs uninterrupted"
echo PASS
