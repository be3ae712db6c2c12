"""usage: same_losses.py WANT_METRICS GOT_METRICS WHAT
Fails unless both metrics.jsonl files hold the same steps with bitwise the
same loss and grad_norm (JSON keeps every bit of a double)."""
import sys

import run_outputs

want_path, got_path, what = sys.argv[1:4]
pick = lambda path: [(s["step"], s["loss"], s["grad_norm"]) for s in run_outputs.steps(path)]
want, got = pick(want_path), pick(got_path)
assert want, f"{want_path} holds no steps"
if want != got:
    diff = [(w, g) for w, g in zip(want, got) if w != g][:3]
    sys.exit(f"FAIL: {what}: {len(want)} vs {len(got)} steps; first differences (step, loss, grad_norm) "
             f"mpirun vs srun: {diff}")
print(f"{what}: {len(want)} steps bitwise equal, last loss {want[-1][1]!r}")
