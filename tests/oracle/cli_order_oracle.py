#!/usr/bin/python3
"""End-to-end oracle through the CLI: h5py-written weights, an llm.c-format
shard written here, `pouch train --data.shuffle=false` with gradient
accumulation; its per-step losses (metrics.jsonl) must match PyTorch training
on the sequences the documented order names: sequence i = tokens
[i*T, i*T + T) (targets one later), counting rows, then micro-batches, then
steps, wrapping at the end of the shard.

  cli_order_oracle.py POUCH_BINARY
Exit 0 on success; when torch, h5py or numpy is missing, 77 (CTest: skipped),
or 1 in CI (the environment variable CI set and not empty): .ci/run installs
them, so a missing one there is a broken environment, not a test to skip
(the rule of tests/support/python_oracle.h).
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    if os.environ.get("CI"):
        print(f"{e} (apt install python3-torch python3-h5py python3-numpy): CI is set and .ci/run installs "
              "them, so the environment is broken (not skipped)")
        sys.exit(1)
    print(f"skipped: {e}")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from torch_gpt_peer import gpt_loss, init_params, make_adamw  # noqa: E402

L, C, H, T, V = 2, 24, 3, 16, 53
B, A, STEPS = 2, 2, 4
LR, WD, CLIP = 3e-3, 0.1, 0.5


def main():
    pouch = sys.argv[1]
    torch.manual_seed(0)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        P = init_params(V, T, C, L, seed=3)
        with torch.no_grad():
            for p in P.values():
                p.add_(0.05 * torch.randn(p.shape))
        with h5py.File(os.path.join(d, "init.h5"), "w") as f:
            g = f.create_group("model")
            for k, v in dict(layers=L, d_model=C, heads=H, seq_len=T, vocab_size=V).items():
                g.attrs[k] = np.int64(v)
            for k, p in P.items():
                g[k] = p.detach().numpy().astype("<f4")
        # 11 windows of T: the run reads 16 sequences, so it wraps.
        tokens = np.random.default_rng(5).integers(0, V, size=11 * T + 1).astype("<u2")
        header = np.zeros(256, dtype="<i4")
        header[0], header[1], header[2] = 20240520, 1, len(tokens)
        with open(os.path.join(d, "shard.bin"), "wb") as f:
            f.write(header.tobytes())
            f.write(tokens.tobytes())

        cmd = [pouch, "train", "--config", "/dev/null",
               f"--model.layers={L}", f"--model.d_model={C}", f"--model.heads={H}", f"--model.seq_len={T}",
               f"--model.vocab_size={V}", f"--train.batch_size={B}", f"--train.grad_accum={A}",
               f"--train.steps={STEPS}", f"--train.init_from={d}/init.h5", f"--train.run_dir={d}/run",
               f"--data.path={d}/shard.bin", "--data.shuffle=false", f"--optim.lr={LR}",
               f"--optim.weight_decay={WD}", f"--optim.grad_clip={CLIP}", "--optim.schedule=constant",
               "--optim.warmup_steps=0", "--log.peak_gflops=100"]
        subprocess.run(cmd, check=True)
        got = [json.loads(line)["loss"] for line in open(os.path.join(d, "run", "metrics.jsonl"))]

        W = (len(tokens) - 1) // T
        opt = make_adamw(P, LR, (0.9, 0.95), 1e-8, WD)
        want = []
        for s in range(STEPS):
            opt.zero_grad(set_to_none=True)
            total = 0.0
            for a in range(A):
                rows = [(s * A + a) * B + b for b in range(B)]
                x = torch.tensor(np.stack([tokens[(i % W) * T:(i % W) * T + T] for i in rows]).astype(np.int64))
                y = torch.tensor(np.stack([tokens[(i % W) * T + 1:(i % W) * T + T + 1] for i in rows]).astype(np.int64))
                _, loss = gpt_loss(P, x, y, L, C, H)
                (loss / A).backward()
                total += loss.item() / A
            torch.nn.utils.clip_grad_norm_(list(P.values()), CLIP)
            opt.step()
            want.append(total)

    print("pouch:", got)
    print("torch:", want)
    assert len(got) == STEPS, f"expected {STEPS} metrics lines, got {len(got)}"
    for s, (g, w) in enumerate(zip(got, want)):
        assert abs(g - w) <= 1e-5 + 1e-4 * abs(w), f"step {s + 1}: pouch {g} vs torch {w}"
    print("order and training match")


if __name__ == "__main__":
    main()
