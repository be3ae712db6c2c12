#!/usr/bin/env python3
"""Preprocessor branches on the optional device libraries (POUCH_CUDA,
POUCH_NCCL, POUCH_CUDNN and their variants) live only in a registry file,
at most one per layer: a C/C++ source named *_registry.cpp (runtime's
make_backend, parallel's communicator registry). Everywhere else the code is
the same in every build: CUDA sources are compiled only when CUDA is on, so
they need no branch, and the rest asks a registry at run time. A stray
`#ifdef POUCH_CUDA` is a second build of that file that CI's CPU build never
compiles and that goes stale unseen.

  check_device_guards.py ROOT

Prints file:line for each branch outside a registry file, and each layer with
more than one registry file that branches; exits 1 if any.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from source_tree import cxx_sources, read_text, top_folder  # noqa: E402

DIRECTIVE = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif|elifdef|elifndef)\b(.*)$")
SWITCH = re.compile(r"\bPOUCH_(CUDA|NCCL|CUDNN)\w*")
REGISTRY_SUFFIX = "_registry.cpp"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_device_guards.py ROOT")
    root = sys.argv[1]
    sources = cxx_sources(root)
    problems = 0
    registries = {}  # layer -> registry files that branch
    for path in sources:
        text = read_text(root, path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            m = DIRECTIVE.match(line)
            if not m or not SWITCH.search(m.group(2)):
                continue
            if path.endswith(REGISTRY_SUFFIX):
                registries.setdefault(top_folder(path), set()).add(path)
                continue
            problems += 1
            print(f"{path}:{number}: {line.strip()}: a branch on a device library outside a registry file; "
                  f"move it into its layer's *{REGISTRY_SUFFIX} and ask that at run time")
    for layer, files in sorted(registries.items()):
        if len(files) > 1:
            problems += 1
            print(f"{layer or '.'}/: {len(files)} registry files branch on device libraries ({', '.join(sorted(files))}); "
                  "keep one per layer")
    print(f"check_device_guards: {len(sources)} sources, {problems} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
