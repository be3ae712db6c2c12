#include "runtime/cpu/sgemm_peak.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "runtime/cpu/gemm.h"
#include "runtime/error.h"

namespace pouch::cpu {

double measure_sgemm_gflops(int n, double min_seconds) {
  POUCH_CHECK(n > 0, "measure_sgemm_gflops: n = {}", n);
  const std::size_t elems = static_cast<std::size_t>(n) * static_cast<std::size_t>(n);
  // Deterministic, well-scaled inputs; values do not affect the speed.
  std::vector<float> a(elems), b(elems), c(elems, 0.0f);
  for (std::size_t i = 0; i < elems; ++i) {
    a[i] = static_cast<float>(i % 17) * 0.01f;
    b[i] = static_cast<float>(i % 13) * 0.01f;
  }
  sgemm(false, false, n, n, n, 1.0f, a.data(), b.data(), 0.0f, c.data());

  using clock = std::chrono::steady_clock;
  const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  double best_seconds = 0.0;
  const auto start = clock::now();
  do {
    const auto t0 = clock::now();
    sgemm(false, false, n, n, n, 1.0f, a.data(), b.data(), 0.0f, c.data());
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    if (best_seconds == 0.0 || s < best_seconds) best_seconds = s;
  } while (std::chrono::duration<double>(clock::now() - start).count() < min_seconds);
  return flops / std::max(best_seconds, 1e-12) / 1e9;
}

double best_of_repetitions(int repetitions, double pause_seconds, const std::function<double()>& measure) {
  POUCH_CHECK(repetitions >= 1, "best_of_repetitions: {} repetitions", repetitions);
  double best = 0.0;
  for (int r = 0; r < repetitions; ++r) {
    if (r > 0 && pause_seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(pause_seconds));
    best = std::max(best, measure());
  }
  return best;
}

double measure_sgemm_peak_gflops(const SgemmPeakOptions& options) {
  return best_of_repetitions(options.repetitions, options.pause_seconds,
                             [&] { return measure_sgemm_gflops(options.n, options.seconds_each); });
}

}  // namespace pouch::cpu
