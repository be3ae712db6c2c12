#!/usr/bin/python3
"""PyTorch oracle for pouch's GPT, using the peer model in bench/torch_gpt_peer.py.

Reads pouch-layout HDF5 weights (/model/<param name>, config as attributes of
/model) and a token batch (raw little-endian int32 [B, T] files), and writes
raw little-endian float32 files into --out: logits.bin [B,T,V], loss.bin [1],
grad.<param name>.bin for every parameter, and losses.bin [steps]: the loss
before each of `steps` AdamW updates on the same batch, with global-norm
clipping and weight decay on the >= 2-d parameters only.
"""
import argparse
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from torch_gpt_peer import gpt_loss, make_adamw  # noqa: E402


def save(path, t):
    t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tofile(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--targets", required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.95)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    a = ap.parse_args()
    torch.set_num_threads(1)

    with h5py.File(a.weights, "r") as f:
        g = f["model"]
        L, d, H = int(g.attrs["layers"]), int(g.attrs["d_model"]), int(g.attrs["heads"])
        eps = float(g.attrs.get("ln_eps", 1e-5))
        P = {k: torch.nn.Parameter(torch.tensor(np.asarray(g[k]), dtype=torch.float32)) for k in g.keys()}
    idx = torch.from_numpy(np.fromfile(a.tokens, dtype="<i4").reshape(a.batch, a.seq).astype(np.int64))
    tgt = torch.from_numpy(np.fromfile(a.targets, dtype="<i4").reshape(a.batch, a.seq).astype(np.int64))
    os.makedirs(a.out, exist_ok=True)

    logits, loss = gpt_loss(P, idx, tgt, L, d, H, eps)
    loss.backward()
    save(os.path.join(a.out, "logits.bin"), logits)
    save(os.path.join(a.out, "loss.bin"), loss.reshape(1))
    for k, p in P.items():
        save(os.path.join(a.out, f"grad.{k}.bin"), p.grad)

    opt = make_adamw(P, a.lr, (a.beta1, a.beta2), a.eps, a.wd)
    losses = []
    for _ in range(a.steps):
        opt.zero_grad(set_to_none=True)
        _, loss = gpt_loss(P, idx, tgt, L, d, H, eps)
        loss.backward()
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(list(P.values()), a.clip)
        opt.step()
        losses.append(loss.item())
    save(os.path.join(a.out, "losses.bin"), torch.tensor(losses))


if __name__ == "__main__":
    main()
