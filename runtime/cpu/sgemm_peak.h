#pragma once
// The machine's practical sgemm peak, measured: the yardstick for MFU and for
// the benchmarks' "fraction of peak".

namespace pouch::cpu {

// Times repeated n x n x n cblas_sgemm calls (after one warm-up) for at least
// min_seconds and returns the best single-call rate in GFLOP/s (2 n^3 flops).
double measure_sgemm_gflops(int n, double min_seconds);

}  // namespace pouch::cpu
