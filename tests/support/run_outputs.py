"""A pouch run's outputs as the shell tests' checks read them: the step lines
of metrics.jsonl, and every dataset of an HDF5 file (model.h5, a checkpoint)
as raw bytes, for bitwise comparisons between runs.

The scripts put this folder on PYTHONPATH and run Debian's /usr/bin/python3,
which has h5py.
"""
import json

import h5py


def steps(path):
    """The lines of a metrics.jsonl that carry a "step", as dicts, in order."""
    with open(path) as f:
        return [json.loads(line) for line in f if '"step"' in line]


def datasets(path):
    """{dataset name: its raw bytes} for every dataset in the HDF5 file."""
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()].tobytes()) if isinstance(obj, h5py.Dataset) else None)
    return out


def assert_same_datasets(want_path, got_path, what):
    """Fails, naming the datasets, unless both files hold the same datasets
    with the same bytes; `what` says which runs are compared."""
    want, got = datasets(want_path), datasets(got_path)
    assert want, f"{want_path} holds no datasets"
    assert got.keys() == want.keys(), f"{what}: datasets only in one file: {sorted(set(got) ^ set(want))}"
    diff = [k for k in want if got[k] != want[k]]
    assert not diff, f"{what}: {got_path} differs from {want_path} in {diff}"
