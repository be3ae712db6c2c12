#!/usr/bin/env bash
# Runs a command and checks how it ended; used by pouch_add_mpi_test's
# EXPECT_FAIL form (cmake/PouchHelpers.cmake) for jobs that must fail.
#   expect_exit.sh ok|fail REGEX MAX_SECONDS -- command args...
# ok: exit 0; fail: exit non-zero. REGEX (grep -E) must match the combined
# stdout+stderr taken as one string ('.' matches newlines too, so a regex can
# require lines in order). MAX_SECONDS > 0: the command must end within that many
# seconds; it is killed at MAX_SECONDS + 30 so a hang fails instead of
# blocking the test run.
set -uo pipefail
want=$1 regex=$2 max_s=$3
shift 3
[[ ${1:-} == -- ]] && shift
limit=()
((max_s > 0)) && limit=(timeout -k 5 $((max_s + 30)))
start=$(date +%s.%N)
out=$("${limit[@]}" "$@" 2>&1)
status=$?
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "$out" | tail -n 80
echo "--- exit status $status after ${elapsed}s"
fail=0
if [[ $want == ok && $status -ne 0 ]]; then echo "FAIL: expected exit 0"; fail=1; fi
if [[ $want == fail && $status -eq 0 ]]; then echo "FAIL: expected a non-zero exit"; fail=1; fi
if ! grep -Ezq -- "$regex" <<<"$out"; then echo "FAIL: output does not match /$regex/"; fail=1; fi
if ((max_s > 0)) && awk -v e="$elapsed" -v m="$max_s" 'BEGIN { exit !(e > m) }'; then
  echo "FAIL: took ${elapsed}s, more than ${max_s}s"
  fail=1
fi
((fail)) && exit 1
echo "PASS"
