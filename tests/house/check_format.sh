#!/usr/bin/env bash
# Every C/C++ source of the tree (tests/house/source_tree.py: git's tracked
# files in a clone, never build directories) is formatted as .clang-format
# says: clang-format --dry-run -Werror, which prints file:line:col of each
# difference and exits non-zero. scripts/format.sh applies the format.
#   tests/house/check_format.sh ROOT
# Environment: CLANG_FORMAT (default clang-format; Debian 12's is version 14,
# the one CI uses: other versions format some constructs differently).
set -euo pipefail
root=${1:?usage: check_format.sh ROOT}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
clang_format=${CLANG_FORMAT:-clang-format}
command -v "$clang_format" >/dev/null || {
  echo "check_format: $clang_format not found: install Debian's clang-format (scripts/setup.sh does)" >&2
  exit 1
}
cd "$root"
mapfile -d '' sources < <("$here/source_tree.py" .)
if ((${#sources[@]})) && ! "$clang_format" --style=file --dry-run -Werror "${sources[@]}"; then
  echo "check_format: sources differ from .clang-format (above); scripts/format.sh reformats them" >&2
  exit 1
fi
echo "check_format: ${#sources[@]} sources formatted as .clang-format says"
