#!/usr/bin/env bash
# `pouch` runs OpenBLAS's widest kernel set the CPU has even where the
# library, not knowing the CPU model, fell back to SSE-only kernels
# (runtime/cpu/blas_kernel_choice.h); a user's OPENBLAS_CORETYPE stands.
# usage: blas_kernels.sh POUCH
set -euo pipefail
pouch=$1
flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
has() { [[ " $flags " == *" $1 "* ]]; }
if has avx512f && has avx512bw && has avx512dq && has avx512vl; then
  if has avx512_bf16; then want=Cooperlake; else want=SkylakeX; fi
elif has avx2 && has fma; then
  want=Haswell
else
  echo "this CPU has no AVX2: OpenBLAS's SSE kernels are the right ones"; exit 0
fi
line=$(env -u OPENBLAS_CORETYPE "$pouch" info | grep -E '^  cpu +[0-9]')
echo "$line"
kernels=$(sed -E 's/.*OpenBLAS ([A-Za-z0-9_]+) kernels.*/\1/' <<<"$line")
case "$kernels" in
  Prescott|Core2|Penryn|Dunnington|Nehalem|Atom|Opteron|Barcelona|Nano)
    echo "FAIL: OpenBLAS runs its SSE-only $kernels kernels on a CPU with $want's"; exit 1 ;;
esac
line=$(OPENBLAS_CORETYPE=Haswell "$pouch" info | grep -E '^  cpu +[0-9]')
echo "$line"
[[ "$line" == *"OpenBLAS Haswell kernels (OPENBLAS_CORETYPE)"* ]] ||
  { echo "FAIL: the user's OPENBLAS_CORETYPE=Haswell did not stand"; exit 1; }
echo "PASS: OpenBLAS runs $kernels kernels; OPENBLAS_CORETYPE overrides"
