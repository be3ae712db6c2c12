#!/usr/bin/env bash
# Fuzzes the checkpoint loaders (tests/fuzz/fuzz_checkpoint_load.cpp) under ASan and
# UBSan for SECONDS (default 60), from a seed corpus written by pouch itself.
#   scripts/fuzz.sh [SECONDS]
# Builds with clang in build-fuzz (BUILD_DIR overrides), separate from the
# GCC build. Exits non-zero on any crash, leak, timeout or out-of-memory in
# pouch's code, printing the input and the report; each such input is kept
# under <build>/fuzz-artifacts/ for a regression test.
#
# HDF5 itself (Debian's 1.10.8, not instrumented) has known memory bugs on
# crafted files (e.g. H5HG_read trusting a global-heap object's length). The
# fuzzer runs in fork mode so that one of those does not end the run; each
# finding is then re-run alone and blamed on the first stack frame outside
# the sanitizer runtime and libc: in libhdf5 it is reported as HDF5's and does
# not fail the run, anywhere else it is pouch's and does.
# Environment: JOBS (build parallelism, default 2), FUZZ_ARGS (extra libFuzzer
# flags), FUZZ_STRICT=1 (also fail on findings that do not reproduce alone).
set -euo pipefail

seconds=${1:-60}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build-fuzz}
jobs=${JOBS:-2}

packages=(clang libclang-rt-14-dev libomp-dev)
"$root/scripts/install_packages.sh" "${packages[@]}"

CC=clang CXX=clang++ cmake -S "$root" -B "$build_dir" -G Ninja -DPOUCH_FUZZ=ON -DBUILD_TESTING=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j "$jobs" --target fuzz_checkpoint_load fuzz_make_corpus

fuzzer=$build_dir/tests/fuzz/fuzz_checkpoint_load
seeds=$build_dir/fuzz-seeds
corpus=$build_dir/fuzz-corpus
artifacts=$build_dir/fuzz-artifacts
rm -rf "$seeds" "$artifacts"
mkdir -p "$corpus" "$artifacts"
"$build_dir/tests/fuzz/fuzz_make_corpus" "$seeds"

limits=(-rss_limit_mb=2048 -timeout=10)
echo "fuzz: ${seconds}s on the checkpoint loaders (corpus $corpus)" >&2
# shellcheck disable=SC2086
"$fuzzer" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -max_total_time="$seconds" \
  "${limits[@]}" -artifact_prefix="$artifacts/" -print_final_stats=1 ${FUZZ_ARGS:-} "$corpus" "$seeds" \
  >"$build_dir/fuzz.log" 2>&1 || true
grep -E '^#[0-9]+: .*exec/s' "$build_dir/fuzz.log" | tail -1 >&2 || true
grep -q 'INFO: fuzzed for' "$build_dir/fuzz.log" || {
  tail -30 "$build_dir/fuzz.log" >&2
  echo "fuzz: the fuzzer did not finish its run (see $build_dir/fuzz.log)" >&2
  exit 1
}

# The first stack frame of a report that is in libhdf5 or in pouch's own
# sources (a source path, not the fuzz binary's own path, which lies in the
# build tree): the code that crashed, leaked or allocated (sanitizer runtime,
# libFuzzer and libc frames come before it and are skipped).
culprit() {
  awk -v root="$root/" '/^ +#[0-9]+ 0x/ && (index($0, "libhdf5") || index($0, " " root)) { print; exit }'
}

ours=0 theirs=0
for unit in "$artifacts"/*; do
  [[ -e $unit ]] || continue
  report=$(UBSAN_OPTIONS=print_stacktrace=1 "$fuzzer" "${limits[@]}" "$unit" 2>&1 || true)
  if ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|deadly signal' <<<"$report"; then
    # pouch's loaders keep no state between inputs, HDF5 does (free lists,
    # caches, its exit handlers), so a finding that needs the inputs before
    # it is not pouch's to fix; FUZZ_STRICT=1 fails on these too.
    echo "fuzz: $(basename "$unit") does not reproduce alone (kept; not counted unless FUZZ_STRICT=1)" >&2
    [[ ${FUZZ_STRICT:-0} == 1 ]] && ours=$((ours + 1))
    continue
  fi
  frame=$(culprit <<<"$report")
  if [[ $frame == *libhdf5* ]]; then
    theirs=$((theirs + 1))
    echo "fuzz: $(basename "$unit"): inside HDF5, not pouch: $(grep -m1 -E 'ERROR|runtime error' <<<"$report" || true)" >&2
  else
    ours=$((ours + 1))
    echo "fuzz: $(basename "$unit") is a bug in pouch:" >&2
    grep -m1 -E 'ERROR|runtime error' <<<"$report" >&2 || true
    if [[ -n $frame ]]; then
      awk '/^ +#[0-9]+ 0x/ && n++ < 15' <<<"$report" >&2
    else
      # No frame names the culprit (no stack, or none in pouch or libhdf5):
      # counted as pouch's, with the whole report to tell.
      echo "fuzz: (no stack frame in pouch or libhdf5; the report follows)" >&2
      tail -40 <<<"$report" >&2
    fi
  fi
done
echo "fuzz: $ours finding(s) in pouch, $theirs inside HDF5 (kept in $artifacts)" >&2
((ours == 0))
