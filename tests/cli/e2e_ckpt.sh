#!/usr/bin/env bash
# pouch ckpt on a real run's checkpoints: inspect, verify (and a flipped byte
# caught, naming the dataset), export to safetensors read back by an
# independent reader, convert to a weights file that generates; and
# --resume=auto falling back past a corrupt newest checkpoint.
# usage: e2e_ckpt.sh POUCH
set -euo pipefail
pouch=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
args=(--model.layers=1 --model.d_model=32 --model.heads=2 --model.seq_len=32 --train.batch_size=4
      --train.threads=1 --train.eval_every=0 --data.task_train_samples=2000 --log.peak_gflops=100
      --train.run_dir=run --checkpoint.every_steps=5 --checkpoint.keep_last=2 --checkpoint.keep_every=10)
"$pouch" train "${args[@]}" --phases=1 --phase.1.steps=20 > train.log
ls run/checkpoints
# keep_last 2 keeps 15 and 20; keep_every 10 keeps 10 as a milestone; 5 is pruned.
test -d run/checkpoints/step-00000010 -a -d run/checkpoints/step-00000015 -a -d run/checkpoints/step-00000020
test ! -e run/checkpoints/step-00000005
grep -q step-00000020 run/checkpoints/latest

"$pouch" ckpt inspect run/checkpoints > inspect.log
grep -q "step 20, tokens seen 2560" inspect.log
grep -q "/optim/wte/m" inspect.log
grep -q "checksums: all .* datasets verify" inspect.log
"$pouch" ckpt verify run/checkpoints/step-00000015

# A flipped byte in the newest checkpoint's data.
/usr/bin/python3 - <<'PY'
import h5py
path = "run/checkpoints/step-00000020/state.h5"
with h5py.File(path) as f:
    off = f["model/blocks.0.mlp.fc.weight"].id.get_offset()
with open(path, "r+b") as f:
    f.seek(off + 100)
    b = f.read(1)
    f.seek(off + 100)
    f.write(bytes([b[0] ^ 0x40]))
PY
set +e
"$pouch" ckpt verify run/checkpoints/step-00000020 > verify.log 2>&1
status=$?
set -e
cat verify.log
[[ $status -eq 1 ]] || { echo "FAIL: verify of a corrupt checkpoint exited $status"; exit 1; }
grep -q "blocks.0.mlp.fc.weight" verify.log

# --resume=auto skips the corrupt newest and resumes from step 15.
"$pouch" train "${args[@]}" --phases=1 --phase.1.steps=25 --resume=auto > resume.log 2>&1
grep -q "resumed from .*step-00000015" resume.log
grep -qi "step-00000020.*blocks.0.mlp.fc.weight\|blocks.0.mlp.fc.weight.*step-00000020" resume.log

# Export and convert the (now newest, step 25) checkpoint.
"$pouch" ckpt export --format safetensors run/checkpoints w.safetensors
"$pouch" ckpt convert run/checkpoints w.h5
/usr/bin/python3 - <<'PY'
import json, struct
import h5py, numpy as np
# An independent safetensors reader, from the format's definition.
raw = open("w.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = header.pop("__metadata__")
assert meta["layers"] == "1" and "tokenizer" in meta, meta.keys()
with h5py.File("run/checkpoints/step-00000025/state.h5") as f:
    names = sorted(f["model"].keys())
    assert sorted(header) == names, (sorted(header), names)
    for k in names:
        h = header[k]
        b, e = h["data_offsets"]
        t = np.frombuffer(raw[8 + n + b:8 + n + e], dtype="<f4").reshape(h["shape"])
        assert np.array_equal(t, f["model"][k][...]), k
print(f"safetensors: {len(names)} tensors equal to the checkpoint's")
PY
# h5py reads the checkpoint's weights equal to what pouch held at the end of
# the run (its model.h5, written from memory).
/usr/bin/python3 - <<'PY'
import h5py, numpy as np
with h5py.File("run/model.h5") as m, h5py.File("run/checkpoints/step-00000025/state.h5") as c:
    names = sorted(m["model"].keys())
    assert names == sorted(c["model"].keys())
    for k in names:
        assert m["model"][k][...].tobytes() == c["model"][k][...].tobytes(), k
    assert int(c["meta"].attrs["step"]) == 25
print(f"h5py: {len(names)} checkpoint tensors equal pouch's final weights")
PY
"$pouch" generate --weights w.h5 --prompt 'Q: 2+3=' --max-tokens 8
echo "ckpt e2e ok"
