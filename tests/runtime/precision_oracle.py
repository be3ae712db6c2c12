"""PyTorch's float32 -> bfloat16 / float16 casts, for test_precision.cpp.

Usage: precision_oracle.py IN OUT
IN holds n little-endian float32 values; OUT receives n uint16 bf16 bit
patterns (x.to(torch.bfloat16)) followed by n uint16 fp16 bit patterns
(x.to(torch.float16)). Exits 3 when torch or numpy cannot be imported.
"""
import sys

try:
    import numpy as np
    import torch
except ImportError as exc:  # the C++ test skips on exit code 3
    print(f"cannot import torch/numpy: {exc}")
    sys.exit(3)


def bits(t):
    return t.view(torch.int16).numpy().view(np.uint16)


def main():
    x = torch.from_numpy(np.fromfile(sys.argv[1], dtype="<f4"))
    out = np.concatenate([bits(x.to(torch.bfloat16)), bits(x.to(torch.float16))])
    out.astype("<u2").tofile(sys.argv[2])


if __name__ == "__main__":
    main()
