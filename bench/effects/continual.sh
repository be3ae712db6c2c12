#!/usr/bin/env bash
# The measured effect of parameter isolation + replay in the continual phase:
# from the same checkpoint (the end of r1-tiny's phase 2, or any phase
# boundary), phase 3 is run twice with the same seed and steps:
#   plain:     isolation = none, replay_ratio = 0 (plain fine-tuning)
#   isolated:  r1-tiny's [phase.3] (LoRA adapters on a frozen base + replay)
# and prints the new level's held-out accuracy and every old level's, before
# and after, with forgetting and backward transfer, and the goal's ratio.
#   bench/effects/continual.sh POUCH START [--phase.3.key=value ...]
# START: a checkpoint at the end of phase 2 (runs/r1-tiny/checkpoints/
# step-00002540 after `pouch train`) or a weights file (a model.h5).
# Extra overrides apply to both arms, e.g. --phase.3.steps=800; ISOLATED
# (environment) holds overrides for the isolated arm only, e.g.
# ISOLATED="--phase.3.replay_ratio=0.3125".
set -euo pipefail
# shellcheck source=bench/effects/start_from.sh
source "$(dirname "${BASH_SOURCE[0]}")/start_from.sh" "$1" "$2"
shift 2
common=(--phases=3 "${from[@]}" --data.task_eval_per_level=100 "$@")
# Plain fine-tuning at the best learning rate of those we tried for it
# (level 6 after 1200 steps from an r1-tiny phase-2 checkpoint: 1e-3 92%,
# 3e-3 90%, 5e-3 83%; 1e-2 collapsed to 3% in 800 steps).
"$pouch" train "${common[@]}" --train.run_dir="$out/plain" --phase.3.isolation=none \
  --phase.3.replay_ratio=0 --phase.3.lr=1e-3 > "$out/plain.log" 2>&1
# shellcheck disable=SC2086
"$pouch" train "${common[@]}" ${ISOLATED:-} --train.run_dir="$out/isolated" > "$out/isolated.log" 2>&1
/usr/bin/python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
def last(run):
    return [json.loads(l) for l in open(f"{out}/{run}/metrics.jsonl")][-1]
p, i = last("plain"), last("isolated")
print("                     | plain fine-tuning | isolation + replay")
print(f"new task L6 after    | {p['continual_new_acc_after']:6.1f}%           | {i['continual_new_acc_after']:6.1f}%")
for k in sorted(x for x in p if x.startswith("continual_old_acc_l") and x.endswith("_after")):
    lv = k[len("continual_old_acc_l"):-len("_after")]
    b = p[f"continual_old_acc_l{lv}_before"]
    print(f"old L{lv} {b:5.1f}% ->    | {p[k]:6.1f}%           | {i[k]:6.1f}%")
print(f"forgetting (points)  | {p['continual_forgetting']:6.1f}            | {i['continual_forgetting']:6.1f}")
print(f"BWT (points)         | {p['continual_bwt']:+6.1f}            | {i['continual_bwt']:+6.1f}")
ratio = i["continual_new_acc_after"] / max(p["continual_new_acc_after"], 1e-9)
print(f"isolated new-task accuracy / plain: {ratio:.2f} (goal >= 0.90); isolated forgetting "
      f"{i['continual_forgetting']:.1f} points (goal <= 2)")
PY
echo "runs in $out"
