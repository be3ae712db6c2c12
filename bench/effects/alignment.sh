#!/usr/bin/env bash
# The measured effect of the alignment phase: from the same checkpoint (the
# end of r1-tiny's phase 1), phase 2 run as GRPO and as PPO with the same
# seeds, steps and rollout batch; prints held-out accuracy and format
# correctness before and after, the held-out reward before and after (the
# same held-out prompts and sampling streams both times: the measure of "the
# reward rises"), the mean training reward of the first and last fifth of the
# steps (whose prompts change every step), and the largest KL to the
# reference.
#   bench/effects/alignment.sh POUCH START [--phase.2.key=value ...]
# START: a checkpoint at the end of phase 1 (runs/r1-tiny/checkpoints/
# step-00002500 after `pouch train`) or a weights file (model.h5 of a
# `pouch train --phases=1` run). Extra overrides apply to both runs.
set -euo pipefail
# shellcheck source=bench/effects/start_from.sh
source "$(dirname "${BASH_SOURCE[0]}")/start_from.sh" "$1" "$2"
shift 2
# 240 held-out prompts for the held-out reward (the phase's default is 64).
common=(--phases=2 "${from[@]}" --phase.2.eval_every=0 --phase.2.reward_eval_prompts=240 "$@")
"$pouch" train "${common[@]}" --train.run_dir="$out/grpo" --phase.2.kind=grpo > "$out/grpo.log" 2>&1
# PPO: the learning rate that kept it stable in our runs (5e-5 stalled it).
"$pouch" train "${common[@]}" --train.run_dir="$out/ppo" --phase.2.kind=ppo --phase.2.lr=3e-5 > "$out/ppo.log" 2>&1
/usr/bin/python3 - "$out" <<'PY'
import json, re, sys
out = sys.argv[1]
print("      | held-out accuracy | well-formed     | held-out reward | training reward (first -> last fifth) | max KL")
for run in ("grpo", "ppo"):
    lines = [json.loads(l) for l in open(f"{out}/{run}/metrics.jsonl")]
    summary = [l for l in open(f"{out}/{run}.log") if " summary: held-out accuracy" in l][-1]
    acc = re.search(r"accuracy ([0-9.]+)% -> ([0-9.]+)%, well-formed ([0-9.]+)% -> ([0-9.]+)%", summary).groups()
    k = max(1, len(lines) // 5)
    r0 = sum(l["reward"] for l in lines[:k]) / k
    r1 = sum(l["reward"] for l in lines[-k:]) / k
    kl = max(l["kl"] for l in lines)
    h0, h1 = lines[-1]["held_out_reward_before"], lines[-1]["held_out_reward"]
    print(f"{run:5} | {acc[0]:>5}% -> {acc[1]:>5}% | {acc[2]:>5}% -> {acc[3]:>5}% | {h0:.4f} -> {h1:.4f} "
          f"| {r0:.3f} -> {r1:.3f}                        | {kl:.4f}")
    dims = sorted(k[len("held_out_reward_"):] for k in lines[-1]
                  if k.startswith("held_out_reward_") and not k.endswith("_before"))
    print("      | " + ", ".join(f"{d} {lines[-1][f'held_out_reward_{d}_before']:.3f} -> "
                                 f"{lines[-1][f'held_out_reward_{d}']:.3f}" for d in dims))
PY
echo "runs in $out"
