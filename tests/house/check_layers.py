#!/usr/bin/env python3
"""The include layering: every #include of a C/C++ source names a file of its
own top folder or of one its line in RULES allows.

  check_layers.py ROOT RULES     (RULES: tests/house/layers.txt)

An include is resolved as the compiler does with the repository root on the
include path: "x.h" first beside the including file, then from the root;
<x.h> from the root. One that names no file of the tree and no folder of
RULES is a system or library header and is not checked. Prints
file:line for each violation with the rule it breaks and exits 1; a source in
a folder RULES has no line for, or a cycle in RULES, is an error too.
"""
import os
import posixpath
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from source_tree import cxx_sources, read_text, top_folder  # noqa: E402

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')


def read_rules(path):
    rules = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            folder, sep, allowed = line.partition(":")
            if not sep or not folder.strip():
                sys.exit(f"{path}:{number}: expected 'folder: folders it may include', got {line!r}")
            rules[folder.strip()] = set(allowed.split())
    return rules


def find_cycle(rules):
    """A list of folders that include each other in a ring, or None."""
    done = set()

    def visit(folder, trail):
        if folder in trail:
            return trail[trail.index(folder):] + [folder]
        if folder in done:
            return None
        for below in sorted(rules.get(folder, ())):
            ring = visit(below, trail + [folder])
            if ring:
                return ring
        done.add(folder)
        return None

    for folder in sorted(rules):
        ring = visit(folder, [])
        if ring:
            return ring
    return None


def resolve(including, quote, name, files):
    """The root-relative path an include names, or None for a header outside the tree."""
    candidates = []
    if quote == '"':
        candidates.append(posixpath.normpath(posixpath.join(posixpath.dirname(including), name)))
    candidates.append(posixpath.normpath(name))
    for path in candidates:
        if path in files:
            return path
    return candidates[-1]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: check_layers.py ROOT RULES")
    root, rules_path = sys.argv[1], sys.argv[2]
    rules = read_rules(rules_path)
    rules_name = os.path.basename(rules_path)
    problems = []
    ring = find_cycle(rules)
    if ring:
        problems.append(f"{rules_path}: the folders {' -> '.join(ring)} include each other in a ring")
    for folder, allowed in sorted(rules.items()):
        for other in sorted(allowed - set(rules)):
            problems.append(f"{rules_path}: {folder} may include {other}, which has no line of its own")

    sources = cxx_sources(root)
    files = set(sources)
    unruled = set()
    for path in sources:
        folder = top_folder(path)
        if folder not in rules:
            unruled.add(folder or "(the root)")
            continue
        text = read_text(root, path) or ""
        for number, line in enumerate(text.splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            target = resolve(path, m.group(1), m.group(2), files)
            target_folder = top_folder(target)
            if target not in files and target_folder not in rules:
                continue  # a system or library header
            if target_folder == folder or target_folder in rules[folder]:
                continue
            allowed = f"only {' '.join(sorted(rules[folder]))}" if rules[folder] else "no other folder"
            where = f"{target_folder}/" if target_folder else "the root"
            problems.append(f"{path}:{number}: includes {m.group(2)} ({where}), but {rules_name} lets {folder}/ "
                            f"include {allowed}")
    for folder in sorted(unruled):
        problems.append(f"{root}: {folder} has C/C++ sources but no line in {rules_path}: add "
                        f"'{folder}: <the folders it may include>' below the folders it uses")
    for p in problems:
        print(p)
    if problems:
        print(f"check_layers: {len(problems)} violation(s) of {rules_path}", file=sys.stderr)
        return 1
    print(f"check_layers: {len(sources)} sources follow {rules_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
