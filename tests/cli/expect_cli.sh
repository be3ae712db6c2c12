#!/usr/bin/env bash
# Runs one pouch command line in a fresh temporary directory and checks its
# exit status and output.
#   expect_cli.sh ok|fail REGEX [--setup 'shell'] -- command args...
# ok: exit 0; fail: exit non-zero. REGEX (grep -E) must match the combined
# stdout+stderr. --setup runs first in the same directory (to make files).
set -uo pipefail
want=$1 regex=$2
shift 2
setup=""
if [[ ${1:-} == --setup ]]; then setup=$2; shift 2; fi
[[ ${1:-} == -- ]] && shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 2
if [[ -n $setup ]]; then bash -c "$setup" || { echo "setup failed: $setup"; exit 1; }; fi
out=$("$@" 2>&1)
status=$?
echo "$out" | tail -n 40
echo "--- exit status $status"
if [[ $want == ok && $status -ne 0 ]]; then echo "FAIL: expected exit 0"; exit 1; fi
if [[ $want == fail && $status -eq 0 ]]; then echo "FAIL: expected a non-zero exit"; exit 1; fi
if ! grep -Eq -- "$regex" <<<"$out"; then echo "FAIL: output does not match /$regex/"; exit 1; fi
echo "PASS"
