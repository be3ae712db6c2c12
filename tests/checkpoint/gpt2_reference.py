"""An independent reader and writer of the two interchange formats, from
their specifications alone (docs/checkpoint-format.md), with numpy:

  write-llmc OUT.bin ARRAYS --version 3|5 --layers L --channels C --heads NH
             --seq T --vocab V [--padded Vp] [--seed S]
      llm.c's model file from random weights, and the weights pouch must
      load from it: ARRAYS/<pouch name>.f32 (raw float32) and
      ARRAYS/listing.txt ("name<TAB>d0 d1"). bf16 is rounded here, to
      nearest even, by this script's own code.
  forward-llmc MODEL.bin TOKENS LOGITS B T
      a GPT-2 forward in llm.c's conventions (W [out, in], y = x W^T + b) on
      the file's weights; exit 1 unless it matches LOGITS (pouch's, raw
      float32 [B, T, V]) within 1e-5. TOKENS is raw int32 [B, T].
  check-hf DIR L C NH T V EPS [TOKENS LOGITS B T]
      DIR/model.safetensors and DIR/config.json against Hugging Face's GPT-2
      (names, shapes, dtype, the safetensors header rules, config keys),
      then, given TOKENS, a forward in Hugging Face's conventions (Conv1D:
      y = x W + b, W [in, out]; lm_head tied to wte) compared to LOGITS.

Exit status 0 when every check passes; the failing check is printed.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np

MAGIC = 20240326
TOL = 1e-5

# llm.c's per-layer tensors in file order: (llm.c name, pouch suffix, shape in units of C).
PER_LAYER = [
    ("ln1w", "ln1.weight", (1,)), ("ln1b", "ln1.bias", (1,)),
    ("qkvw", "attn.qkv.weight", (3, 1)), ("qkvb", "attn.qkv.bias", (3,)),
    ("attprojw", "attn.proj.weight", (1, 1)), ("attprojb", "attn.proj.bias", (1,)),
    ("ln2w", "ln2.weight", (1,)), ("ln2b", "ln2.bias", (1,)),
    ("fcw", "mlp.fc.weight", (4, 1)), ("fcb", "mlp.fc.bias", (4,)),
    ("fcprojw", "mlp.proj.weight", (1, 4)), ("fcprojb", "mlp.proj.bias", (1,)),
]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def bf16_round(a):
    """float32 -> bf16 bits, round to nearest, ties to even (no NaN here)."""
    bits = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return bits.astype(np.uint16)


def bf16_widen(h):
    return (h.astype(np.uint32) << 16).view(np.float32)


def write_llmc(a):
    L, C, NH, T, V = a.layers, a.channels, a.heads, a.seq, a.vocab
    Vp = a.padded or (V + 127) // 128 * 128
    rng = np.random.default_rng(a.seed)

    def rand(*shape):
        return (rng.standard_normal(shape) * 0.3).astype(np.float32)

    wte = np.zeros((Vp, C), np.float32)
    wte[:V] = rand(V, C)
    tensors = [("wte", wte), ("wpe", rand(T, C))]
    for name, _, units in PER_LAYER:
        shape = tuple(u * C for u in units)
        t = rand(L, *shape)
        if name in ("ln1w", "ln2w"):
            t += 1.0
        tensors.append((name, t))
    tensors += [("lnfw", rand(C) + 1.0), ("lnfb", rand(C))]

    header = np.zeros(256, np.int32)
    header[:8] = [MAGIC, a.version, T, V, L, NH, C, Vp]
    loaded = {}  # what pouch must hold after reading the file
    with open(a.out, "wb") as f:
        f.write(header.tobytes())
        for name, t in tensors:
            if a.version == 5:
                h = bf16_round(t)
                f.write(h.tobytes())
                t = bf16_widen(h).reshape(t.shape)
            else:
                f.write(t.astype("<f4").tobytes())
            loaded[name] = t
    os.makedirs(a.arrays, exist_ok=True)
    pouch = {"wte": loaded["wte"][:V], "wpe": loaded["wpe"],
             "lnf.weight": loaded["lnfw"], "lnf.bias": loaded["lnfb"]}
    for name, suffix, _ in PER_LAYER:
        for l in range(L):
            pouch[f"blocks.{l}.{suffix}"] = loaded[name][l]
    with open(os.path.join(a.arrays, "listing.txt"), "w") as listing:
        for name, t in pouch.items():
            listing.write(name + "\t" + " ".join(str(d) for d in t.shape) + "\n")
            np.ascontiguousarray(t, dtype="<f4").tofile(os.path.join(a.arrays, name + ".f32"))


def read_llmc(path):
    """The file as Hugging Face-style arrays (W transposed to [in, out])."""
    raw = open(path, "rb").read()
    h = np.frombuffer(raw[:1024], "<i4")
    if h[0] != MAGIC or h[1] not in (3, 5):
        fail(f"{path}: header {h[:2]}")
    T, V, L, NH, C, Vp = (int(x) for x in h[2:8])
    dtype = "<f4" if h[1] == 3 else "<u2"
    size = 4 if h[1] == 3 else 2
    pos = 1024

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        a = np.frombuffer(raw, dtype, n, pos)
        pos += n * size
        return (a if h[1] == 3 else bf16_widen(a)).astype(np.float64).reshape(shape)

    w = {"transformer.wte.weight": take(Vp, C)[:V], "transformer.wpe.weight": take(T, C)}
    hf_names = {"ln1w": "ln_1.weight", "ln1b": "ln_1.bias", "qkvw": "attn.c_attn.weight", "qkvb": "attn.c_attn.bias",
                "attprojw": "attn.c_proj.weight", "attprojb": "attn.c_proj.bias", "ln2w": "ln_2.weight",
                "ln2b": "ln_2.bias", "fcw": "mlp.c_fc.weight", "fcb": "mlp.c_fc.bias",
                "fcprojw": "mlp.c_proj.weight", "fcprojb": "mlp.c_proj.bias"}
    for name, _, units in PER_LAYER:
        t = take(L, *(u * C for u in units))
        for l in range(L):
            # llm.c keeps nn.Linear's [out, in]; Conv1D's is its transpose.
            w[f"transformer.h.{l}.{hf_names[name]}"] = t[l].T if t.ndim == 3 else t[l]
    w["transformer.ln_f.weight"] = take(C)
    w["transformer.ln_f.bias"] = take(C)
    if pos != len(raw):
        fail(f"{path}: {len(raw) - pos} bytes after the parameters")
    return w, dict(L=L, C=C, NH=NH, T=T, V=V, eps=1e-5)


def hf_forward(w, cfg, ids):
    """GPT2LMHeadModel's forward, in float64, with Hugging Face's conventions."""
    B, T = ids.shape
    C, NH, eps = cfg["C"], cfg["NH"], cfg["eps"]
    hs = C // NH

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[p + ".weight"] + w[p + ".bias"]

    def conv1d(x, p):
        return x @ w[p + ".weight"] + w[p + ".bias"]

    def gelu_new(x):
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))

    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][np.arange(T)]
    mask = np.triu(np.ones((T, T), bool), 1)
    for l in range(cfg["L"]):
        p = f"transformer.h.{l}."
        q, k, v = np.split(conv1d(ln(x, p + "ln_1"), p + "attn.c_attn"), 3, axis=-1)
        q, k, v = (t.reshape(B, T, NH, hs).transpose(0, 2, 1, 3) for t in (q, k, v))
        att = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hs)
        att = np.where(mask, -np.inf, att)
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        y = (att @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
        x = x + conv1d(y, p + "attn.c_proj")
        x = x + conv1d(gelu_new(conv1d(ln(x, p + "ln_2"), p + "mlp.c_fc")), p + "mlp.c_proj")
    return ln(x, "transformer.ln_f") @ w["transformer.wte.weight"].T  # lm_head tied to wte


def compare_logits(w, cfg, tokens, logits, B, T):
    ids = np.fromfile(tokens, "<i4").reshape(B, T)
    want = np.fromfile(logits, "<f4").reshape(B, T, cfg["V"]).astype(np.float64)
    got = hf_forward(w, cfg, ids)
    diff = float(np.abs(got - want).max())
    print(f"max |logit difference| {diff:.3g} over {want.size} logits (max |logit| {np.abs(want).max():.3g})")
    if not diff <= TOL:
        fail(f"the reference forward differs from pouch's logits by {diff} > {TOL}")


def check_hf(a):
    raw = open(os.path.join(a.dir, "model.safetensors"), "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    if 8 + n > len(raw):
        fail(f"header length {n} beyond the file")
    text = raw[8:8 + n].decode("utf-8")
    if not text.startswith("{"):
        fail("the header does not start with '{'")
    header = json.loads(text)
    if header.pop("__metadata__", None) != {"format": "pt"}:
        fail("__metadata__ must be {'format': 'pt'}: from_pretrained refuses another")
    data = raw[8 + n:]
    L, C, NH, T, V, eps = a.L, a.C, a.NH, a.T, a.V, a.eps
    # GPT2LMHeadModel's state dict (transformers' modeling_gpt2.py), the tied
    # lm_head.weight left out as save_pretrained leaves it out.
    want = {"transformer.wte.weight": [V, C], "transformer.wpe.weight": [T, C],
            "transformer.ln_f.weight": [C], "transformer.ln_f.bias": [C]}
    for l in range(L):
        p = f"transformer.h.{l}."
        want.update({p + "ln_1.weight": [C], p + "ln_1.bias": [C],
                     p + "attn.c_attn.weight": [C, 3 * C], p + "attn.c_attn.bias": [3 * C],
                     p + "attn.c_proj.weight": [C, C], p + "attn.c_proj.bias": [C],
                     p + "ln_2.weight": [C], p + "ln_2.bias": [C],
                     p + "mlp.c_fc.weight": [C, 4 * C], p + "mlp.c_fc.bias": [4 * C],
                     p + "mlp.c_proj.weight": [4 * C, C], p + "mlp.c_proj.bias": [C]})
    if set(header) != set(want):
        fail(f"names differ: extra {sorted(set(header) - set(want))}, missing {sorted(set(want) - set(header))}")
    spans = []
    w = {}
    for name, info in header.items():
        if set(info) != {"dtype", "shape", "data_offsets"}:
            fail(f"{name}: keys {sorted(info)}")
        if info["dtype"] != "F32" or info["shape"] != want[name]:
            fail(f"{name}: {info['dtype']} {info['shape']}, Hugging Face's GPT-2 has F32 {want[name]}")
        b, e = info["data_offsets"]
        if e - b != 4 * int(np.prod(info["shape"])):
            fail(f"{name}: data_offsets {b, e} for shape {info['shape']}")
        spans.append((b, e))
        w[name] = np.frombuffer(data, "<f4", (e - b) // 4, b).astype(np.float64).reshape(info["shape"])
    spans.sort()
    # The format's rule: the tensors fill the byte buffer exactly, without holes or overlaps.
    if spans[0][0] != 0 or spans[-1][1] != len(data) or any(p[1] != q[0] for p, q in zip(spans, spans[1:])):
        fail("data_offsets do not tile the byte buffer")
    config = json.load(open(os.path.join(a.dir, "config.json")))
    expect = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": C, "n_layer": L, "n_head": NH,
              "n_positions": T, "vocab_size": V, "activation_function": "gelu_new", "tie_word_embeddings": True}
    for key, value in expect.items():
        if config.get(key) != value:
            fail(f"config.json {key} = {config.get(key)!r}, want {value!r}")
    if np.float32(config["layer_norm_epsilon"]) != np.float32(eps):
        fail(f"config.json layer_norm_epsilon {config['layer_norm_epsilon']} != {eps}")
    print(f"safetensors: {len(header)} tensors with Hugging Face GPT-2's names, shapes and dtype; config.json ok")
    if a.tokens:
        compare_logits(w, dict(L=L, C=C, NH=NH, T=T, V=V, eps=float(np.float32(eps))), a.tokens, a.logits, a.B, a.T_run)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("write-llmc")
    p.add_argument("out")
    p.add_argument("arrays")
    for k in ("version", "layers", "channels", "heads", "seq", "vocab"):
        p.add_argument("--" + k, type=int, required=True)
    p.add_argument("--padded", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("forward-llmc")
    p.add_argument("model")
    p.add_argument("tokens")
    p.add_argument("logits")
    p.add_argument("B", type=int)
    p.add_argument("T", type=int)
    p = sub.add_parser("check-hf")
    p.add_argument("dir")
    for k in ("L", "C", "NH", "T", "V"):
        p.add_argument(k, type=int)
    p.add_argument("eps", type=float)
    p.add_argument("tokens", nargs="?")
    p.add_argument("logits", nargs="?")
    p.add_argument("B", type=int, nargs="?")
    p.add_argument("T_run", type=int, nargs="?")
    a = ap.parse_args()
    if a.cmd == "write-llmc":
        write_llmc(a)
    elif a.cmd == "forward-llmc":
        w, cfg = read_llmc(a.model)
        compare_logits(w, cfg, a.tokens, a.logits, a.B, a.T)
    else:
        check_hf(a)
    print("ok")


if __name__ == "__main__":
    main()
