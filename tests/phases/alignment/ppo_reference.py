#!/usr/bin/python3
"""The PPO/GRPO formulas of phases/alignment/ppo_math.h and phases/alignment/grpo_math.h written
directly in PyTorch (float64), gradients by autograd, for
tests/phases/alignment/test_ppo_math.cpp.

usage: ppo_reference.py IN.json OUT.json
IN holds the inputs of each case (see the test); OUT the values and
gradients under the same keys.
"""
import json
import sys

import torch


def t(x):
    return torch.tensor(x, dtype=torch.float64)


def leaf(x):
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def policy(c):
    lp, lp_old, adv = leaf(c["lp"]), t(c["lp_old"]), t(c["adv"])
    eps = c["eps"]
    log_ratio = lp - lp_old
    ratio = torch.exp(log_ratio)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1 - eps, 1 + eps) * adv
    loss = (-torch.min(unclipped, clipped)).sum() / c["token_count"]
    loss.backward()
    with torch.no_grad():
        lr = log_ratio.detach()
        return {
            "loss": loss.item(),
            "grad": lp.grad.tolist(),
            "clipped": int((clipped < unclipped).sum().item()),
            "approx_kl_sum": ((torch.exp(lr) - 1) - lr).sum().item(),
        }


def value(c):
    v, v_old, ret = leaf(c["v"]), t(c["v_old"]), t(c["ret"])
    eps = c["eps"]
    v_clip = v_old + torch.clamp(v - v_old, -eps, eps)
    err, err_clip = (v - ret) ** 2, (v_clip - ret) ** 2
    loss = (0.5 * torch.max(err, err_clip)).sum() / c["token_count"]
    loss.backward()
    return {"loss": loss.item(), "grad": v.grad.tolist(), "clipped": int((err_clip > err).sum().item())}


def kl(c):
    lp, lp_ref = leaf(c["lp"]), t(c["lp_ref"])
    x = lp_ref - lp
    k3 = torch.exp(x) - x - 1
    k3.sum().backward()
    return {"k1": (lp - lp_ref).tolist(), "k3": k3.tolist(), "k3_grad": lp.grad.tolist()}


def shaped(c):
    lp, lp_ref = t(c["lp"]), t(c["lp_ref"])
    r = -c["beta"] * (lp - lp_ref)
    r[-1] += c["sequence_reward"]
    return {"rewards": r.tolist()}


def gae(c):
    r, v = t(c["rewards"]), t(c["values"])
    gamma, lam = c["gamma"], c["lambda"]
    n = len(r)
    adv = torch.zeros(n, dtype=torch.float64)
    last = 0.0
    for k in reversed(range(n)):
        next_v = v[k + 1] if k + 1 < n else 0.0
        delta = r[k] + gamma * next_v - v[k]
        last = delta + gamma * lam * last
        adv[k] = last
    return {"advantages": adv.tolist(), "returns": (adv + v).tolist()}


def whiten(c):
    x = t(c["x"])
    return {"x": ((x - x.mean()) / torch.sqrt(x.var(unbiased=False) + c["eps"])).tolist()}


def grpo(c):
    advs = []
    for group in c["groups"]:
        r = t(group)
        advs += ((r - r.mean()) / (r.std(unbiased=True) + c["adv_eps"])).tolist()
    lp, lp_old, lp_ref = leaf(c["lp"]), t(c["lp_old"]), t(c["lp_ref"])
    offsets, eps, beta = c["offsets"], c["eps"], c["beta"]
    loss = torch.zeros((), dtype=torch.float64)
    for i, a in enumerate(advs):
        s = slice(offsets[i], offsets[i + 1])
        ratio = torch.exp(lp[s] - lp_old[s])
        surrogate = -torch.min(ratio * a, torch.clamp(ratio, 1 - eps, 1 + eps) * a)
        x = lp_ref[s] - lp[s]
        k3 = torch.exp(x) - x - 1
        loss = loss + (surrogate + beta * k3).mean()
    loss = loss / c["sample_count"]
    loss.backward()
    return {"advantages": advs, "loss": loss.item(), "grad": lp.grad.tolist()}


CASES = {"policy": policy, "value": value, "kl": kl, "shaped": shaped, "gae": gae, "whiten": whiten, "grpo": grpo}


def main():
    with open(sys.argv[1]) as f:
        inputs = json.load(f)
    out = {name: CASES[name](case) for name, case in inputs.items()}
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
