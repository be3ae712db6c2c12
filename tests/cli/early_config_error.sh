#!/usr/bin/env bash
# A config error of a later phase fails the run at once: non-zero exit, a
# message matching REGEX (the key and where it was set), within SECONDS of
# wall time, and before any step (no phase banner, no step line, nothing of
# the run directory written but the other ranks' logs).
#   early_config_error.sh SECONDS REGEX [--startup CMD...] -- command args...   (SECONDS: whole seconds)
# With --startup, SECONDS bounds the time beyond CMD's: under mpirun, CMD is
# the same launch refused at its first check after MPI_Init, so what is timed
# is pouch's own work up to the error, not the launcher's start (1-3 s here).
set -uo pipefail
limit=$1 regex=$2
shift 2
startup=()
if [[ ${1:-} == --startup ]]; then
  shift
  while [[ $# -gt 0 && $1 != -- ]]; do startup+=("$1"); shift; done
fi
[[ ${1:-} == -- ]] && shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 2
startup_ms=0
if [[ ${#startup[@]} -gt 0 ]]; then
  start=$(date +%s%N)
  "${startup[@]}" >/dev/null 2>&1
  startup_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  rm -rf runs
fi
start=$(date +%s%N)
out=$("$@" 2>&1)
status=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 - startup_ms ))
echo "$out" | tail -n 20
echo "--- exit status $status after ${elapsed_ms} ms (beyond a start-up of ${startup_ms} ms)"
fail() { echo "FAIL: $*"; exit 1; }
[[ $status -ne 0 ]] || fail "expected a non-zero exit"
grep -Eq -- "$regex" <<<"$out" || fail "output does not match /$regex/"
(( elapsed_ms < limit * 1000 )) || fail "took ${elapsed_ms} ms, more than ${limit} s"
! grep -Eq -- "^== phase|^step +[0-9]" <<<"$out" || fail "a phase started"
# Under mpirun the other ranks open their log (runs/<name>/logs/rankN.log)
# before training starts; nothing else may exist: no config.ini, metrics or
# checkpoint.
written=$( [[ -e runs ]] && find runs -type f ! -path 'runs/*/logs/rank*.log')
[[ -z $written ]] || fail "the run wrote: $(head -5 <<<"$written")"
echo "PASS"
