#pragma once
// The yardstick of MFU (model FLOPs utilisation): model FLOP/s achieved over
// a peak FLOP/s. pouch's peak is the sgemm rate of one rank's compute threads
// (runtime/cpu/sgemm_peak.h) times the ranks of the job, or `[log]
// peak_gflops` times the ranks when configured.
//
// A peak measured while the machine is busy (other ranks starting up, data
// being mapped in) comes out low, and steps then "beat" it: MFU above 100%.
// Nothing a step computes runs faster than the machine's dense-matmul peak,
// so a step that beats the peak proves the peak low. The meter then raises
// the peak to that step's rate, or to a fresh measurement when one is
// better (at most max_remeasures of them), before dividing. Every MFU it
// reports is therefore in [0, 1], and the peak only ever goes up.
#include <functional>

namespace pouch {

class PeakMeter {
 public:
  // `peak_flops` > 0: FLOP/s of the whole job. `remeasure`: a fresh
  // measurement of the same peak, in FLOP/s (none for a configured peak).
  explicit PeakMeter(double peak_flops, std::function<double()> remeasure = {}, int max_remeasures = 2);

  // MFU of `flops` model FLOPs done in `seconds`, in [0, 1]; raises the peak
  // first when flops / seconds beats it. 0 when seconds <= 0.
  double utilisation(double flops, double seconds);

  double peak_flops() const { return peak_; }
  // How many times a step beat the peak (and raised it).
  int raises() const { return raises_; }

 private:
  void raise_to(double rate);

  double peak_;
  std::function<double()> remeasure_;
  int remeasures_left_;
  int raises_ = 0;
};

}  // namespace pouch
