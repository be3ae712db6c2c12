#!/usr/bin/env bash
# The default run, exactly as a user types it: `pouch train` with no
# arguments (every phase of r1-tiny), in one process or under
# `mpirun -np 2` (data parallel). Checks the exit status, that every phase
# ran and logged its own numbers, the phase-boundary checkpoints, the
# weights published for `pouch serve`, and the final summary.
# usage: e2e_default_run.sh POUCH [MPIEXEC [TRAIN ARGS...]]
# TRAIN ARGS (after MPIEXEC) are added to `pouch train`: the mpirun run may
# shorten the phases (CI's time; see tests/cli/CMakeLists.txt).
set -euo pipefail
pouch=$1 mpiexec=${2:-}
shift $(( $# < 2 ? $# : 2 ))
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
if [[ -z "$mpiexec" ]]; then
  "$pouch" train > train.log 2>&1 || { tail -40 train.log; echo "FAIL: pouch train exited non-zero"; exit 1; }
else
  "$mpiexec" -np 2 --oversubscribe --allow-run-as-root "$pouch" train "$@" > train.log 2>&1 ||
    { tail -40 train.log; echo "FAIL: mpirun -np 2 pouch train exited non-zero"; exit 1; }
fi
grep -E "^(== phase|eval step|trained|  level|  overall|  phase|grpo|ppo|continual|curriculum)" train.log || true
/usr/bin/python3 - <<'PY'
import json, os
lines = [json.loads(l) for l in open("runs/r1-tiny/metrics.jsonl")]
kinds = {}
for l in lines:
    kinds.setdefault(l["phase"], l["phase_kind"])
assert kinds == {1: "pretrain", 2: "grpo", 3: "continual"}, f"phases logged: {kinds}"
steps = [l["step"] for l in lines]
assert steps == list(range(1, len(steps) + 1)), "global steps are not 1..N in order"
grpo = [l for l in lines if l["phase"] == 2]
for key in ("reward", "reward_accuracy", "reward_coherence", "reward_harmless", "reward_diversity",
            "reward_efficiency", "kl"):
    assert all(key in l for l in grpo), f"grpo lines lack {key}"
for key in ("held_out_reward_before", "held_out_reward"):
    assert key in grpo[-1], f"the last grpo line lacks {key}"
print(f"   grpo held-out reward {grpo[-1]['held_out_reward_before']:.4f} -> {grpo[-1]['held_out_reward']:.4f}")
ckpts = sorted(os.listdir("runs/r1-tiny/checkpoints"))
assert f"step-{steps[-1]:08d}" in ckpts, f"no final checkpoint among {ckpts}"
latest = open("runs/r1-tiny/serve/LATEST").read().split()
assert int(latest[0]) == steps[-1], f"serve/LATEST names version {latest[0]}, not the last step {steps[-1]}"
assert os.path.exists("runs/r1-tiny/model.h5")
print(f"   {len(steps)} steps over phases {kinds}; serve/LATEST = {' '.join(latest)}")
PY
echo "PASS: the default run${mpiexec:+ under mpirun -np 2}"
