#pragma once
// Compute threads: pouch's OpenMP kernels and the OpenMP build of OpenBLAS
// share one pool, so one setting governs both.
namespace pouch {

// n <= 0 keeps the default (OMP_NUM_THREADS, else all cores).
void set_compute_threads(int n);
int compute_threads();

}  // namespace pouch
