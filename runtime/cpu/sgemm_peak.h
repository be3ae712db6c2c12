#pragma once
// The machine's practical sgemm peak, measured: the yardstick for MFU and for
// the benchmarks' "fraction of peak". It is the rate of cblas_sgemm on this
// process's compute threads (runtime/threads.h), so it already counts the
// cores one rank uses.
#include <functional>

namespace pouch::cpu {

// Times repeated n x n x n cblas_sgemm calls (after one warm-up) for at least
// min_seconds and returns the best single-call rate in GFLOP/s (2 n^3 flops).
double measure_sgemm_gflops(int n, double min_seconds);

// The best of `repetitions` (>= 1) calls of `measure` (each returns a rate),
// sleeping `pause_seconds` between them. Load from outside (other ranks
// starting, a data loader's page faults) lowers some repetitions; the peak is
// what the machine can do, so the best one is the estimate.
double best_of_repetitions(int repetitions, double pause_seconds, const std::function<double()>& measure);

struct SgemmPeakOptions {
  int n = 512;
  int repetitions = 4;
  double seconds_each = 0.05;  // measure_sgemm_gflops(n, seconds_each) per repetition
  double pause_seconds = 0.03;
};

// The sgemm peak measured robustly: best_of_repetitions of
// measure_sgemm_gflops. About 0.3 s with the default options.
double measure_sgemm_peak_gflops(const SgemmPeakOptions& options = {});

}  // namespace pouch::cpu
