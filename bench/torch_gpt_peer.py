#!/usr/bin/python3
"""The PyTorch eager peer of pouch's GPT, and the model the oracle tests use.

Same math as pouch (GPT-2 / nanoGPT): learned token and position embeddings,
pre-LayerNorm blocks, causal multi-head attention with a fused qkv projection,
4x GELU(tanh) MLP, final LayerNorm, LM head tied to wte, mean cross-entropy.
Parameters are a dict keyed by pouch's parameter names (PyTorch Linear layout).

As a benchmark (run with Debian's /usr/bin/python3 and python3-torch):
  torch_gpt_peer.py --layers 4 --d-model 256 --heads 4 --seq 256 --batch 8 \
      --vocab 2048 --steps 10 --threads 2
prints one line: tokens_per_s=<float> ms_per_step=<float> loss=<float>
(median over the steps, after 2 warm-up steps; one step = forward, backward
and an AdamW update with weight decay on the >= 2-d parameters).
"""
import argparse
import math
import time

import torch
import torch.nn.functional as F


def param_shapes(vocab, seq, d, layers):
    shapes = {"wte": (vocab, d), "wpe": (seq, d)}
    for i in range(layers):
        b = f"blocks.{i}."
        shapes.update({
            b + "ln1.weight": (d,), b + "ln1.bias": (d,),
            b + "attn.qkv.weight": (3 * d, d), b + "attn.qkv.bias": (3 * d,),
            b + "attn.proj.weight": (d, d), b + "attn.proj.bias": (d,),
            b + "ln2.weight": (d,), b + "ln2.bias": (d,),
            b + "mlp.fc.weight": (4 * d, d), b + "mlp.fc.bias": (4 * d,),
            b + "mlp.proj.weight": (d, 4 * d), b + "mlp.proj.bias": (d,),
        })
    shapes.update({"lnf.weight": (d,), "lnf.bias": (d,)})
    return shapes


def init_params(vocab, seq, d, layers, seed=0):
    """N(0, 0.02) for matrices and embeddings, zero biases, LayerNorm weight 1."""
    g = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in param_shapes(vocab, seq, d, layers).items():
        if len(shape) >= 2:
            t = torch.randn(shape, generator=g) * 0.02
        elif name.endswith(".weight"):
            t = torch.ones(shape)
        else:
            t = torch.zeros(shape)
        params[name] = torch.nn.Parameter(t)
    return params


def gpt_logits(P, idx, layers, d, heads, eps=1e-5):
    B, T = idx.shape
    x = P["wte"][idx] + P["wpe"][:T]
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    for i in range(layers):
        b = f"blocks.{i}."
        h = F.layer_norm(x, (d,), P[b + "ln1.weight"], P[b + "ln1.bias"], eps)
        q, k, v = F.linear(h, P[b + "attn.qkv.weight"], P[b + "attn.qkv.bias"]).split(d, dim=2)
        q, k, v = (t.view(B, T, heads, d // heads).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(d // heads)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, d)
        x = x + F.linear(y, P[b + "attn.proj.weight"], P[b + "attn.proj.bias"])
        h = F.layer_norm(x, (d,), P[b + "ln2.weight"], P[b + "ln2.bias"], eps)
        h = F.gelu(F.linear(h, P[b + "mlp.fc.weight"], P[b + "mlp.fc.bias"]), approximate="tanh")
        x = x + F.linear(h, P[b + "mlp.proj.weight"], P[b + "mlp.proj.bias"])
    x = F.layer_norm(x, (d,), P["lnf.weight"], P["lnf.bias"], eps)
    return x @ P["wte"].t()


def gpt_loss(P, idx, targets, layers, d, heads, eps=1e-5):
    logits = gpt_logits(P, idx, layers, d, heads, eps)
    return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def make_adamw(P, lr, betas, eps, weight_decay):
    decay = [p for p in P.values() if p.dim() >= 2]
    no_decay = [p for p in P.values() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=betas, eps=eps)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--vocab", type=int, default=2048)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    P = init_params(a.vocab, a.seq, a.d_model, a.layers)
    opt = make_adamw(P, 3e-4, (0.9, 0.95), 1e-8, 0.1)
    x = torch.randint(0, a.vocab, (a.batch, a.seq))
    y = torch.roll(x, -1, 1)
    times = []
    for i in range(a.steps + 2):
        t0 = time.perf_counter()
        _, loss = gpt_loss(P, x, y, a.layers, a.d_model, a.heads)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    print(f"tokens_per_s={a.batch * a.seq / med:.1f} ms_per_step={med * 1e3:.2f} loss={loss.item():.4f}")


if __name__ == "__main__":
    main()
