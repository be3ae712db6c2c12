#!/usr/bin/env bash
# llm.c and Hugging Face interchange through the CLI, on a real run:
#  - export --format llmc, convert the .bin back: bitwise the checkpoint's /model;
#  - train --train.init_from=model.bin continues exactly as from the same
#    weights in HDF5 (bitwise the same losses), and a mismatched [model] or
#    a file that is no model is a clear error;
#  - a model.bin from the independent writer (gpt2_reference.py) loads with
#    the weights it wrote, and training starts from it;
#  - export --layout hf-gpt2 passes the independent reader's layout checks.
# usage: e2e_interchange.sh POUCH GPT2_REFERENCE_PY
set -euo pipefail
pouch=$1
ref=$2
py=/usr/bin/python3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
model=(--model.layers=1 --model.d_model=32 --model.heads=2 --model.seq_len=32 --model.vocab_size=64)
args=("${model[@]}" --train.batch_size=4 --train.threads=1 --train.eval_every=0 --data.task_train_samples=2000
      --log.peak_gflops=100 --phases=1)
"$pouch" train "${args[@]}" --train.run_dir=run --phase.1.steps=4 > train.log
ckpt=run/checkpoints/step-00000004/state.h5

"$pouch" ckpt export --help > help.log
grep -q -- "--format llmc" help.log && grep -q "hf-gpt2" help.log && grep -q "20240326" help.log

# pouch -> llm.c -> pouch is bitwise; the run's model.h5 exports the same bytes.
"$pouch" ckpt export --format llmc run/checkpoints model.bin
"$pouch" ckpt export --format llmc run/model.h5 model_from_h5.bin
cmp model.bin model_from_h5.bin
"$pouch" ckpt convert model.bin back.h5
"$pouch" ckpt inspect model.bin > inspect.log
grep -q "version 3 (fp32)" inspect.log && grep -q "vocab_size 64 padded to 128" inspect.log
grep -q -- "--model.layers=1 --model.d_model=32 --model.heads=2 --model.seq_len=32 --model.vocab_size=64" inspect.log
"$pouch" ckpt export --format llmc --dtype bf16 run/checkpoints model_bf16.bin
$py - "$ckpt" <<'PY'
import os, sys
import h5py, numpy as np
h = np.fromfile("model.bin", "<i4", 8)
assert list(h) == [20240326, 3, 32, 64, 1, 2, 32, 128], h
assert list(np.fromfile("model_bf16.bin", "<i4", 2)) == [20240326, 5]
n = 128 * 32 + 32 * 32 + 1 * (12 * 32 * 32 + 13 * 32) + 2 * 32
assert os.path.getsize("model.bin") == 1024 + 4 * n and os.path.getsize("model_bf16.bin") == 1024 + 2 * n
with h5py.File(sys.argv[1]) as a, h5py.File("back.h5") as b:
    names = sorted(a["model"].keys())
    assert names == sorted(b["model"].keys()), (names, sorted(b["model"].keys()))
    for k in names:
        assert a["model"][k][...].tobytes() == b["model"][k][...].tobytes(), k
print(f"llmc round trip: {len(names)} tensors bitwise equal")
PY

# init_from an llm.c file continues exactly as from the same weights in HDF5.
"$pouch" train "${args[@]}" --train.run_dir=from_bin --train.init_from=model.bin --phase.1.steps=3 > from_bin.log
"$pouch" train "${args[@]}" --train.run_dir=from_h5 --train.init_from=back.h5 --phase.1.steps=3 > from_h5.log
losses() { $py -c "import json,sys; print([json.loads(l)['loss'] for l in open(sys.argv[1])])" "$1"; }
[[ "$(losses from_bin/metrics.jsonl)" == "$(losses from_h5/metrics.jsonl)" ]] ||
  { echo "FAIL: init_from model.bin and back.h5 trained differently"; exit 1; }
fresh=$($py -c "import json; print(json.loads(open('run/metrics.jsonl').readline())['loss'])")
first=$($py -c "import json; print(json.loads(open('from_bin/metrics.jsonl').readline())['loss'])")
$py -c "import sys; sys.exit(0 if float(sys.argv[2]) < float(sys.argv[1]) else 1)" "$fresh" "$first" ||
  { echo "FAIL: the run from model.bin starts at loss $first, no better than a fresh one ($fresh)"; exit 1; }

# A mismatched [model], and files that are not models: clear errors.
expect_fail() {
  local regex=$1
  shift
  if "$@" > err.log 2>&1; then echo "FAIL: $* succeeded"; exit 1; fi
  grep -Eq -- "$regex" err.log || { echo "FAIL: want /$regex/ in:"; cat err.log; exit 1; }
}
expect_fail "model\.bin.*layers=1.*layers=2.*make \[model\] match" \
  "$pouch" train "${args[@]/--model.layers=1/--model.layers=2}" --train.run_dir=bad --train.init_from=model.bin \
  --phase.1.steps=1
head -c 5000 /dev/urandom > noise.bin
expect_fail "noise\.bin.*20240326" "$pouch" train "${args[@]}" --train.run_dir=bad --train.init_from=noise.bin \
  --phase.1.steps=1
head -c 3000 model.bin > cut.bin
expect_fail "cut\.bin.*truncated" "$pouch" ckpt convert cut.bin cut.h5

# The independent writer's file: pouch holds exactly its arrays, and trains from it.
for version in 3 5; do
  $py "$ref" write-llmc py.bin arrays --version "$version" --layers 1 --channels 32 --heads 2 --seq 32 --vocab 64
  "$pouch" ckpt convert py.bin py.h5
  $py - <<'PY'
import h5py, numpy as np
with h5py.File("py.h5") as f:
    rows = [l.rstrip("\n").split("\t") for l in open("arrays/listing.txt")]
    assert sorted(n for n, _ in rows) == sorted(f["model"].keys())
    for name, shape in rows:
        want = np.fromfile(f"arrays/{name}.f32", "<f4").reshape([int(d) for d in shape.split()])
        assert f["model"][name][...].tobytes() == want.tobytes(), name
print(f"independent llm.c file: {len(rows)} tensors loaded exactly")
PY
done
"$pouch" train "${args[@]}" --train.run_dir=from_py --train.init_from=py.bin --phase.1.steps=1 > from_py.log

# Hugging Face's layout, checked by the independent reader.
"$pouch" ckpt export --format safetensors --layout hf-gpt2 run/checkpoints hf
$py "$ref" check-hf hf 1 32 2 32 64 1e-5
expect_fail "--layout is for --format safetensors" "$pouch" ckpt export --format llmc --layout hf-gpt2 run/checkpoints x
expect_fail "--dtype bf16 is for --format llmc" "$pouch" ckpt export --dtype bf16 run/checkpoints x.safetensors
echo "interchange e2e ok"
