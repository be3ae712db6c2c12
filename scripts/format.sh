#!/usr/bin/env bash
# Formats every C/C++ source of the tree in place as .clang-format says (the
# files tests/house/check_format.sh checks: git's tracked sources).
#   scripts/format.sh
# Environment: CLANG_FORMAT (default clang-format, Debian 12's version 14).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
mapfile -d '' sources < <(tests/house/source_tree.py .)
"${CLANG_FORMAT:-clang-format}" --style=file -i "${sources[@]}"
echo "format: ${#sources[@]} sources formatted"
