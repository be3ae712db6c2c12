#!/usr/bin/env bash
# The measured effect of curriculum + quality-score sampling in pre-training:
# r1-tiny pre-trained for the same steps (same tokens) and seed, once with
# uniform sampling and once with root pacing over the levels plus quality
# sampling; prints held-out exact-answer accuracy per level for both.
#   bench/effects/curriculum.sh [POUCH] [STEPS]      (default build/launcher/pouch, 2500)
# About 2 x 3 minutes on 2 cores.
set -euo pipefail
pouch=$(realpath "${1:-build/launcher/pouch}")
steps=${2:-2500}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
common=(--phases=1 --phase.1.steps="$steps" --phase.1.eval_every="$steps")
"$pouch" train "${common[@]}" --train.run_dir="$out/uniform" --phase.1.curriculum=none \
  --phase.1.quality_sampling=false --phase.1.source_weights= > "$out/uniform.log" 2>&1
"$pouch" train "${common[@]}" --train.run_dir="$out/curriculum" --phase.1.curriculum=root \
  --phase.1.curriculum_fraction=0.5 --phase.1.quality_sampling=true \
  "--phase.1.source_weights=simple*0.8@epoch<10; complex*1.5@epoch>=10" > "$out/curriculum.log" 2>&1
/usr/bin/python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
def last_eval(run):
    lines = [json.loads(l) for l in open(f"{out}/{run}/metrics.jsonl")]
    return [l for l in lines if "eval_accuracy" in l][-1]
u, c = last_eval("uniform"), last_eval("curriculum")
print(f"held-out exact-answer accuracy after {u['step']} steps (same tokens, same seed):")
print("level | uniform | curriculum + quality")
for k in sorted(x for x in u if x.startswith("eval_accuracy_l")):
    print(f"  {k[-1]}   | {100*u[k]:5.1f}%  | {100*c[k]:5.1f}%")
print(f"  all | {100*u['eval_accuracy']:5.1f}%  | {100*c['eval_accuracy']:5.1f}%")
PY
echo "runs in $out"
