#!/usr/bin/env bash
# Running part of a schedule with --phases: phase 1 alone, then phases 2-3
# continuing from the checkpoint phase 1 ended with; asking for phase 3
# without phase 2's boundary checkpoint is a clear error; a bad --phases list
# is refused.
set -euo pipefail
pouch=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
cat > run.ini <<'INI'
[model]
layers = 1
d_model = 32
heads = 2
seq_len = 48
vocab_size = 31
[train]
run_dir = run
batch_size = 4
threads = 1
eval_every = 0
[data]
task_train_samples = 2000
task_eval_per_level = 2
[log]
peak_gflops = 100
[phase.1]
kind = pretrain
steps = 4
curriculum = linear
[phase.2]
kind = grpo
steps = 2
prompts_per_step = 2
samples_per_prompt = 2
max_new_tokens = 16
[phase.3]
kind = continual
steps = 2
new_samples = 200
publish_every = 1
INI
fail() { tail -20 "$1"; echo "FAIL: $2"; exit 1; }
"$pouch" train --config run.ini --phases=1 > one.log 2>&1 || fail one.log "--phases=1 failed"
grep -q "== phase 1 (pretrain)" one.log || fail one.log "phase 1 did not run"
grep -q "== phase 2 (grpo)" one.log && fail one.log "--phases=1 ran phase 2"
[[ -d run/checkpoints/step-00000004 ]] || fail one.log "no boundary checkpoint at step 4"
set +e
"$pouch" train --config run.ini --phases=3 > three.log 2>&1
status=$?
set -e
((status != 0)) || fail three.log "--phases=3 without phase 2's checkpoint succeeded"
grep -q "run phase 2 first" three.log || fail three.log "the error does not say to run phase 2 first"
"$pouch" train --config run.ini --phases=2,3 > rest.log 2>&1 || fail rest.log "--phases=2,3 failed"
grep -q "resumed from .*step-00000004.* at step 4 (phase 2 (grpo), from its start)" rest.log ||
  fail rest.log "phases 2-3 did not start from the step-4 checkpoint"
grep -q "== phase 3 (continual)" rest.log || fail rest.log "phase 3 did not run"
[[ -f run/serve/LATEST ]] || fail rest.log "phase 3 published nothing"
set +e
"$pouch" train --config run.ini --phases=1,3 > bad.log 2>&1
status=$?
set -e
((status != 0)) && grep -q "consecutive" bad.log || fail bad.log "--phases=1,3 was not refused"
echo "PASS: --phases runs parts of the schedule"
