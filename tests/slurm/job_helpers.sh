slurm_tests_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Sourced by the tests on the local Slurm (slurm/local_slurm.sh): the tiny
# run they all train, and waiting on and reading job records.
tiny=(--model.layers=2 --model.d_model=32 --model.heads=2 --model.seq_len=32 --train.batch_size=4
  --data.task_train_samples=2000 --data.task_eval_per_level=2 --phases=1 --train.eval_every=0
  --log.peak_gflops=100)

# job_field ID NAME: NAME=value of `scontrol show job ID` (ExitCode, JobState, Restarts, ...).
job_field() { scontrol show job "$1" 2> /dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }

# wait_job ID SECONDS STATE...: until the job is in one of STATEs; fails after SECONDS.
wait_job() {
  local id=$1 limit=$2 state
  shift 2
  for ((t = 0; t < limit * 4; t++)); do
    state=$(job_field "$id" JobState)
    for want in "$@"; do [[ $state == "$want" ]] && return 0; done
    sleep 0.25
  done
  echo "FAIL: job $id still '$state' after $limit s (wanted $*)"
  scontrol show job "$id"
  return 1
}

# wait_steps METRICS N SECONDS: until metrics.jsonl holds step N.
wait_steps() {
  for ((t = 0; t < $3 * 10; t++)); do
    grep -q "\"step\":$2," "$1" 2> /dev/null && return 0
    sleep 0.1
  done
  echo "FAIL: $1 did not reach step $2 in $3 s"
  return 1
}

# same_weights WANT GOT WHAT: every dataset of two model.h5 bitwise equal.
same_weights() {
  PYTHONPATH="$slurm_tests_dir/../support" /usr/bin/python3 -c \
    'import sys, run_outputs; run_outputs.assert_same_datasets(*sys.argv[1:4])' "$@" && echo "$3: weights bitwise equal"
}

show_logs() { tail -n 15 "$@" 2> /dev/null; }
