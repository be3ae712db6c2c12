#!/usr/bin/env bash
# pouch train on a tiny model, then the run directory's contents, pouch eval
# and pouch generate on the weights it wrote.  usage: e2e_train_eval_generate.sh POUCH
set -euo pipefail
pouch=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
tiny=(--model.layers=1 --model.d_model=32 --model.heads=2 --model.seq_len=64 --train.batch_size=4
      --data.task_train_samples=2000 --data.task_eval_per_level=3 --log.peak_gflops=100)
"$pouch" train "${tiny[@]}" --phases=1 --phase.1.steps=20 --train.eval_every=10 --train.run_dir=run | tee train.log
grep -q "held-out exact-answer accuracy by difficulty level" train.log
test "$(wc -l < run/metrics.jsonl)" -eq 20
/usr/bin/python3 - <<'PY'
import json
rows = [json.loads(l) for l in open("run/metrics.jsonl")]
assert [r["step"] for r in rows] == list(range(1, 21)), "steps are not 1..20"
for r in rows:
    for k in ("loss", "lr", "grad_norm", "tokens_per_s", "mfu"):
        assert k in r, f"step {r['step']} lacks {k}"
for s in (10, 20):
    r = rows[s - 1]
    assert "val_loss" in r and "eval_accuracy_l5" in r, f"no eval fields at step {s}"
assert rows[-1]["loss"] < rows[0]["loss"], "loss did not fall"
print("metrics ok")
PY
grep -q '^steps = 20' run/config.ini
test -s run/model.h5
"$pouch" eval --weights run/model.h5 --per-level 2 | tee eval.log
grep -q "level 5" eval.log
out=$("$pouch" generate --weights run/model.h5 --prompt 'Q: 3+4=' --max-tokens 20)
echo "generated: $out"
[[ $out == "Q: 3+4="* ]]
echo "e2e ok"
