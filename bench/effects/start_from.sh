# shellcheck shell=bash disable=SC2034  # sets variables for the script that sources it
# Sourced by the phase-effect scripts that start from a phase boundary:
#   source start_from.sh POUCH START
# sets pouch (the binary's absolute path), from (the pouch train flags that
# start there: --resume for a checkpoint, a step-N directory or its
# state.h5; --train.init_from for a weights file) and out (OUT, or a fresh
# temporary directory), and creates out.
pouch=$(realpath "$1")
start=$(realpath "$2")
if [[ -d "$start" || $(basename "$start") == state.h5 ]]; then from=(--resume="$start"); else from=(--train.init_from="$start"); fi
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
