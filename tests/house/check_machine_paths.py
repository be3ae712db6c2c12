#!/usr/bin/env python3
"""No file of the tree names a path that exists only on one machine: the
home of the root user, or the directories development and CI machines keep
their checkouts, build farms and clean-CI clones in (MACHINE_PATHS). Such a
path works where it was written and nowhere else; use a path relative to the
tree, $HOME, or the system temp dir (mkdtemp) instead.

  check_machine_paths.py ROOT

Reads every text file (git's tracked files in a clone); prints file:line and
the path for each match and exits 1.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from source_tree import all_files, read_text  # noqa: E402

# Assembled from parts so that this file does not match itself.
MACHINE_PATHS = ["/" + name + "/" for name in ("work", "farm", "root")] + ["/tmp/" + "clean-ci"]
PATTERN = re.compile("|".join(re.escape(p) for p in MACHINE_PATHS))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_machine_paths.py ROOT")
    root = sys.argv[1]
    files = all_files(root)
    problems = 0
    for path in files:
        text = read_text(root, path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            m = PATTERN.search(line)
            if m:
                problems += 1
                print(f"{path}:{number}: names {m.group(0)}..., a path of one machine: {line.strip()[:160]}")
    print(f"check_machine_paths: {len(files)} files, {problems} line(s) naming a machine path")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
