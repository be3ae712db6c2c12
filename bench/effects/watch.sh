#!/usr/bin/env bash
# The measured effect of continual learning from a watched directory while
# `pouch serve` answers: a model pretrained on the Python standard library's
# sources learns a new corpus (Debian's package documentation) that arrives
# in three files mid-phase, renamed into the phase's watch_dir one after the
# other as the phase runs out of data. Two arms from the same pre-trained
# checkpoint, with the same seed and files:
#   plain:     isolation = none, replay_ratio = 0 (plain fine-tuning)
#   isolated:  isolation = lora + replay_ratio = 0.25
# Each arm is served throughout by `pouch serve --watch` under a closed-loop
# load of CLIENTS clients. Prints the new corpus's held-out loss before and
# after, the old corpus's (forgetting), the files and tokens learned, and
# the requests answered and failed.
#   bench/effects/watch.sh POUCH [OUT]
# Environment: PRE_STEPS (pre-training steps, 300), NEW_KB (size of the new
# corpus, 240), CLIENTS (4).
set -euo pipefail
pouch=$(realpath "$1")
out=$(realpath -m "${2:-$(mktemp -d)}")
mkdir -p "$out"
cd "$out"
# The servers, load clients and droppers of an arm end with the script, however it ends.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
PRE_STEPS=${PRE_STEPS:-300} NEW_KB=${NEW_KB:-240} CLIENTS=${CLIENTS:-4}
py=/usr/bin/python3

# Corpora: the old one as one document per source file; the new one split
# by file, every fifth file held out for the loss, the rest in three drops.
$py - "$NEW_KB" <<'PY'
import glob, json, os, sys
budget = int(sys.argv[1]) * 1024
old = sorted(glob.glob("/usr/lib/python3*/*.py"))
with open("old.list", "w") as f:
    f.write("\n".join(old) + "\n")
names = ("README", "NEWS", "TODO", "THANKS", "AUTHORS", "HISTORY", "FAQ")
docs, total = [], 0
for path in sorted(glob.glob("/usr/share/doc/**/*", recursive=True)):
    base = os.path.basename(path)
    if not os.path.isfile(path) or path.endswith(".gz") or base == "copyright":
        continue
    if not (base.endswith((".md", ".txt", ".rst")) or base.startswith(names)):
        continue
    if not 1024 <= os.path.getsize(path) <= 64 * 1024:
        continue
    try:
        text = open(path, encoding="utf-8").read()
    except UnicodeDecodeError:
        continue
    docs.append(text)
    total += len(text.encode())
    if total >= budget:
        break
held = [d for i, d in enumerate(docs) if i % 5 == 0]
rest = [d for i, d in enumerate(docs) if i % 5 != 0]
with open("new_heldout.jsonl", "w") as f:
    for d in held:
        f.write(json.dumps({"text": d}) + "\n")
os.makedirs("drops", exist_ok=True)
for k in range(3):
    with open(f"drops/new_{k + 1}.jsonl", "w") as f:
        for d in rest[k::3]:
            f.write(json.dumps({"text": d}) + "\n")
print(f"corpora: old {len(old)} Python files; new {len(docs)} documents ({total // 1024} KiB): "
      f"{len(held)} held out, {len(rest)} in 3 drops")
PY
mapfile -t old_inputs < old.list
inputs=()
for f in "${old_inputs[@]}"; do inputs+=(--input "$f"); done
"$pouch" data prepare "${inputs[@]}" --text-split file --vocab-size 2048 --out old --overwrite > prepare.log
"$pouch" data prepare --input new_heldout.jsonl --tokenizer old/tokenizer.json --val-fraction 0 --out new_eval \
  --overwrite >> prepare.log

cat > run.ini <<INI
[model]
layers = 4
d_model = 128
heads = 4
seq_len = 128
vocab_size = 2048
[train]
batch_size = 16
eval_every = 0
seed = 5
[data]
path = $out/old/train_*.bin
val_path = $out/old/val_*.bin
[optim]
lr = 3e-3
warmup_steps = 20
[checkpoint]
every_steps = 0
[phase.1]
kind = pretrain
steps = $PRE_STEPS
[phase.2]
kind = continual
steps = 2000
lr = 1e-3
warmup_steps = 0
on_idle = wait
idle_timeout_s = 20
watch_poll_s = 0.5
publish_every = 10
lora_rank = 16
lora_alpha = 32
INI
"$pouch" train --config run.ini --phases=1 --train.run_dir=pre > pre.log 2>&1
boundary=$(ls -d pre/checkpoints/step-* | tail -1)

eval_loss() {  # eval_loss WEIGHTS DATA
  "$pouch" eval --weights "$1" --data "$2" --batches 16 --batch-size 8 | sed -n 's/^val_loss \([0-9.]*\).*/\1/p'
}

arm() {  # arm NAME overrides...
  local name=$1
  shift
  mkdir -p "$name/inbox"
  cp pre/model.h5 "$name/model.h5"  # served as version 0 until the phase publishes
  "$pouch" serve --watch "$name" --port 0 --poll-ms 100 > "$name.serve.log" 2>&1 &
  local serve=$!
  local port=""
  for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\).*/\1/p' "$name.serve.log" | head -1)
    [[ -n $port ]] && break
    sleep 0.1
  done
  [[ -n $port ]] || { cat "$name.serve.log"; echo "FAIL: pouch serve did not start"; exit 1; }
  "$py" - "$port" "$CLIENTS" "$name" <<'PY' &
import json, os, sys, threading, time, urllib.request
port, clients, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ok = failed = 0
versions = set()
lock = threading.Lock()
def client(i):
    global ok, failed
    streak = 0  # failures in a row: a server that is gone ends the client
    while not os.path.exists(f"{name}/stop-load") and streak < 50:
        body = json.dumps({"prompt": "def ", "max_tokens": 16, "temperature": 0.8, "seed": i}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/generate", body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                v = json.loads(r.read())["version"]
            with lock:
                ok += 1
                versions.add(v)
            streak = 0
        except Exception as e:
            streak += 1
            with lock:
                failed += 1
            print(f"request failed: {e}", file=sys.stderr)
threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
json.dump({"ok": ok, "failed": failed, "versions": len(versions), "newest": max(versions, default=-1)},
          open(f"{name}/load.json", "w"))
PY
  local load=$!
  # The dropper: the next file is renamed in once the phase has (nearly)
  # run out of data; the first as soon as the phase starts.
  "$py" - "$name" <<'PY' &
import json, os, shutil, sys, time
name = sys.argv[1]
def metrics():
    try:
        return [json.loads(l) for l in open(f"{name}/metrics.jsonl")]
    except (FileNotFoundError, json.JSONDecodeError):
        return []
for k in range(1, 4):
    while True:
        lines = [l for l in metrics() if "watch_tokens_pending" in l]
        if k == 1 or (lines and lines[-1]["watch_files"] == k - 1 and lines[-1]["watch_tokens_pending"] < 16 * 128):
            break
        time.sleep(0.2)
    shutil.copy(f"drops/new_{k}.jsonl", f"{name}/inbox/.new_{k}.jsonl")
    os.rename(f"{name}/inbox/.new_{k}.jsonl", f"{name}/inbox/new_{k}.jsonl")
    print(f"{name}: dropped new_{k}.jsonl at step {lines[-1]['step'] if lines else '-'}", flush=True)
PY
  local dropper=$!
  "$pouch" train --config run.ini --phases=2 --resume="$boundary" --train.run_dir="$name" \
    --phase.2.watch_dir="$out/$name/inbox" "$@" > "$name.log" 2>&1 || { tail -30 "$name.log"; exit 1; }
  wait "$dropper"
  touch "$name/stop-load"
  wait "$load"
  kill "$serve"
  wait "$serve" || true
}
arm plain --phase.2.isolation=none --phase.2.replay_ratio=0
arm isolated --phase.2.isolation=lora --phase.2.replay_ratio=0.25

new_before=$(eval_loss pre/model.h5 "new_eval/train_*.bin")
old_before=$(eval_loss pre/model.h5 "old/val_*.bin")
"$py" - "$new_before" "$old_before" \
  "$(eval_loss plain/model.h5 "new_eval/train_*.bin")" "$(eval_loss plain/model.h5 "old/val_*.bin")" \
  "$(eval_loss isolated/model.h5 "new_eval/train_*.bin")" "$(eval_loss isolated/model.h5 "old/val_*.bin")" <<'PY'
import json, sys
nb, ob, pn, po, i_n, io = map(float, sys.argv[1:])
def last(run):
    return [json.loads(l) for l in open(f"{run}/metrics.jsonl")][-1]
def steps(run):
    return sum(1 for l in open(f"{run}/metrics.jsonl") if "watch_new_windows" in json.loads(l))
p, i = last("plain"), last("isolated")
lp, li = json.load(open("plain/load.json")), json.load(open("isolated/load.json"))
print("                            | plain fine-tuning | isolation + replay")
print(f"new corpus held-out loss    | {nb:.3f} -> {pn:.3f}    | {nb:.3f} -> {i_n:.3f}")
print(f"old corpus val loss         | {ob:.3f} -> {po:.3f}    | {ob:.3f} -> {io:.3f}")
print(f"forgetting (loss increase)  | {po - ob:+.3f}            | {io - ob:+.3f}")
print(f"files learned / skipped     | {p['watch_files']} / {p['watch_skipped']}             | {i['watch_files']} / {i['watch_skipped']}")
print(f"new tokens learned (steps)  | {p['watch_tokens_learned']} ({steps('plain')})      | {i['watch_tokens_learned']} ({steps('isolated')})")
print(f"requests ok / failed        | {lp['ok']} / {lp['failed']}           | {li['ok']} / {li['failed']}")
print(f"versions served (newest)    | {lp['versions']} ({lp['newest']})          | {li['versions']} ({li['newest']})")
PY
