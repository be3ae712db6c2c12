#!/usr/bin/env python3
"""Every file path a comment names exists.

  check_comment_paths.py ROOT [FOREIGN]

Reads the comments of the C/C++ sources (// and /* */, outside string and
character literals) and the # comments of CMake, shell and Python files and
of any file starting with #!.
A path is a word like dir/file.ext (ext: a source, script, doc or config
extension); it must name a file or folder from ROOT or from the commenting
file's folder, so a path into a new sub-folder (phases/<concern>/x.h) passes
as soon as the file is there. Not checked: a library's header (found under
the system include directories: fmt/core.h) and the paths of other projects
listed in FOREIGN (tests/house/foreign_paths.txt). Prints file:line and the
path for each one that does not exist; exits 1.
"""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from source_tree import CXX_EXTENSIONS, all_files, read_text  # noqa: E402

EXTENSIONS = "h|hpp|cpp|cc|cu|cuh|py|sh|cmake|md|txt|ini|json|in"
# Not part of a longer path or word on the left (so the tail of a URL or of
# an absolute path is no match), and not continued on the right.
PATH = re.compile(r"(?<![\w./-])((?:[\w.-]+/)+[\w.-]+\.(?:" + EXTENSIONS + r"))(?![\w/-]|\.\w)")
HASH_COMMENTED = (".py", ".sh", ".cmake")
SYSTEM_INCLUDE_DIRS = ["/usr/include", "/usr/local/include"] + glob.glob("/usr/include/*-linux-gnu")


def is_library_header(path):
    return path.endswith(CXX_EXTENSIONS) and any(os.path.isfile(os.path.join(d, path)) for d in SYSTEM_INCLUDE_DIRS)


def read_foreign(path):
    """The paths of FOREIGN: the first word of each line, # starts a comment."""
    if path is None:
        return set()
    with open(path) as f:
        return {line.split("#", 1)[0].split()[0] for line in f if line.split("#", 1)[0].strip()}


def cxx_comments(text):
    """(line number, comment text) for each comment, skipping literals."""
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            yield line, text[i + 2:end]
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end
            for k, part in enumerate(text[i + 2:end].split("\n")):
                yield line + k, part
            line += text.count("\n", i, end)
            i = end + 2
        elif c == '"' and i > 0 and text[i - 1] == "R":  # raw string R"delim( ... )delim"
            open_paren = text.find("(", i)
            terminator = ")" + text[i + 1:open_paren] + '"'
            close = text.find(terminator, open_paren) if open_paren >= 0 else -1
            end = n if close < 0 else close + len(terminator)
            line += text.count("\n", i, end)
            i = end
        elif c in "\"'":
            # A ' between digits is a digit separator (1'000), not a literal.
            if c == "'" and i > 0 and text[i - 1].isalnum() and i + 1 < n and text[i + 1].isalnum():
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            i = j + 1 if j < n and text[j] == c else j  # an unclosed literal ends at its line
        else:
            i += 1


def hash_comments(text):
    """(line number, comment text) for # comments: a # at a line's start or after a blank, outside quotes."""
    for number, line in enumerate(text.splitlines(), 1):
        quote = None
        for k, c in enumerate(line):
            if quote:
                if c == quote:
                    quote = None
            elif c in "\"'":
                quote = c
            elif c == "#" and (k == 0 or line[k - 1].isspace()):
                yield number, line[k + 1:]
                break


def comments(path, text):
    if path.endswith(CXX_EXTENSIONS):
        return cxx_comments(text)
    script = text.startswith("#!")  # .ci/run and other scripts without an extension
    if path.endswith(HASH_COMMENTED) or os.path.basename(path) == "CMakeLists.txt" or script:
        return hash_comments(text)
    return ()


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: check_comment_paths.py ROOT [FOREIGN]")
    root = sys.argv[1]
    foreign = read_foreign(sys.argv[2] if len(sys.argv) == 3 else None)
    files = all_files(root)
    problems = checked = 0
    for path in files:
        text = read_text(root, path)
        if text is None:
            continue
        here = os.path.dirname(path)
        for number, comment in comments(path, text):
            for m in PATH.finditer(comment):
                named = m.group(1)
                if named in foreign or is_library_header(named):
                    continue
                checked += 1
                if os.path.exists(os.path.join(root, named)) or os.path.exists(os.path.join(root, here, named)):
                    continue
                problems += 1
                print(f"{path}:{number}: the comment names {named}, which does not exist")
    print(f"check_comment_paths: {checked} paths named in comments, {problems} of them missing")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
