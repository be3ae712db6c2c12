#!/usr/bin/env python3
"""The files the house checks read, as paths relative to the tree's root:
git's tracked files when ROOT has a .git (a clone or a worktree), else every
file under ROOT except build outputs (build*/, __pycache__/) and .git.

  source_tree.py ROOT    prints the C/C++ sources, each ended by a NUL
                         (for xargs -0: check_format.sh, scripts/format.sh)
"""
import os
import subprocess
import sys

CXX_EXTENSIONS = (".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh")


def _skipped_dir(name):
    return name == ".git" or name == "__pycache__" or name.startswith("build")


def all_files(root):
    if os.path.exists(os.path.join(root, ".git")):
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True, capture_output=True).stdout
        # A tracked file deleted in the working tree is not there to read.
        return sorted(p for p in out.decode().split("\0") if p and os.path.isfile(os.path.join(root, p)))
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not _skipped_dir(d)]
        rel = os.path.relpath(dirpath, root)
        for name in filenames:
            files.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return sorted(files)


def cxx_sources(root):
    return [p for p in all_files(root) if p.endswith(CXX_EXTENSIONS)]


def top_folder(path):
    """The first component of a root-relative path ("" for a file at the root)."""
    return path.split("/", 1)[0] if "/" in path else ""


def read_text(root, path):
    """The file's text, or None for a binary file (a NUL in its first 8 KiB)."""
    with open(os.path.join(root, path), "rb") as f:
        data = f.read()
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: source_tree.py ROOT")
    sys.stdout.write("".join(p + "\0" for p in cxx_sources(sys.argv[1])))
