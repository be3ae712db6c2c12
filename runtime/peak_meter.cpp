#include "runtime/peak_meter.h"

#include <algorithm>
#include <utility>

#include "runtime/error.h"
#include "runtime/log.h"

namespace pouch {

PeakMeter::PeakMeter(double peak_flops, std::function<double()> remeasure, int max_remeasures)
    : peak_(peak_flops), remeasure_(std::move(remeasure)), remeasures_left_(remeasure_ ? max_remeasures : 0) {
  POUCH_CHECK(peak_flops > 0, "PeakMeter needs a positive peak, got {}", peak_flops);
}

double PeakMeter::utilisation(double flops, double seconds) {
  if (seconds <= 0 || flops <= 0) return 0.0;
  const double rate = flops / seconds;
  if (rate > peak_) raise_to(rate);
  return std::min(1.0, rate / peak_);
}

void PeakMeter::raise_to(double rate) {
  const double old = peak_;
  double measured = 0.0;
  if (remeasures_left_ > 0) {
    --remeasures_left_;
    measured = remeasure_();
  }
  peak_ = std::max(rate, measured);
  ++raises_;
  log_info("MFU yardstick: a step ran at {:.1f} GFLOP/s, above the peak of {:.1f} GFLOP/s{}; peak raised to {:.1f}",
           rate / 1e9, old / 1e9, measured > 0 ? fmt::format(" (re-measured: {:.1f})", measured / 1e9) : "",
           peak_ / 1e9);
}

}  // namespace pouch
