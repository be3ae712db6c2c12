// The MFU yardstick: a step that beats the peak raises it (MFU never above
// 100%), and the sgemm peak is the best of its repetitions.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "runtime/cpu/sgemm_peak.h"
#include "runtime/peak_meter.h"

namespace pouch {
namespace {

TEST(PeakMeter, SlowerStepIsItsShareOfThePeak) {
  PeakMeter meter(100e9);
  EXPECT_DOUBLE_EQ(meter.utilisation(25e9, 1.0), 0.25);
  EXPECT_DOUBLE_EQ(meter.peak_flops(), 100e9);
  EXPECT_EQ(meter.raises(), 0);
}

TEST(PeakMeter, FasterStepRaisesThePeakAndReportsAtMostOne) {
  PeakMeter meter(40e9);                             // measured while the machine was busy
  const double mfu = meter.utilisation(100e9, 1.0);  // the step ran at 100 GFLOP/s: 250% of that peak
  EXPECT_LE(mfu, 1.0);
  EXPECT_DOUBLE_EQ(mfu, 1.0);
  EXPECT_DOUBLE_EQ(meter.peak_flops(), 100e9);
  EXPECT_EQ(meter.raises(), 1);
  // Later steps are measured against the raised peak.
  EXPECT_DOUBLE_EQ(meter.utilisation(50e9, 1.0), 0.5);
  EXPECT_EQ(meter.raises(), 1);
}

TEST(PeakMeter, RaisingRemeasuresAndKeepsTheBetterOfStepAndMeasurement) {
  int calls = 0;
  std::vector<double> measurements = {160e9, 90e9};
  PeakMeter meter(
      40e9, [&] { return measurements[static_cast<std::size_t>(calls++)]; }, 2);
  EXPECT_DOUBLE_EQ(meter.utilisation(80e9, 1.0), 0.5);  // re-measured at 160: 80 / 160
  EXPECT_EQ(calls, 1);
  EXPECT_DOUBLE_EQ(meter.peak_flops(), 160e9);
  EXPECT_DOUBLE_EQ(meter.utilisation(200e9, 1.0), 1.0);  // re-measured at 90, below the step's 200
  EXPECT_EQ(calls, 2);
  EXPECT_DOUBLE_EQ(meter.peak_flops(), 200e9);
  EXPECT_DOUBLE_EQ(meter.utilisation(300e9, 1.0), 1.0);  // no re-measurement left: raised to the step
  EXPECT_EQ(calls, 2);
  EXPECT_DOUBLE_EQ(meter.peak_flops(), 300e9);
  EXPECT_EQ(meter.raises(), 3);
}

TEST(PeakMeter, NoTimeIsNoUtilisation) {
  PeakMeter meter(1e9);
  EXPECT_EQ(meter.utilisation(1e9, 0.0), 0.0);
  EXPECT_EQ(meter.raises(), 0);
}

TEST(SgemmPeak, BestOfRepetitionsReturnsTheBestOne) {
  const std::vector<double> rates = {30.0, 95.0, 40.0, 60.0};
  int calls = 0;
  const double best = cpu::best_of_repetitions(4, 0.0, [&] { return rates[static_cast<std::size_t>(calls++)]; });
  EXPECT_EQ(calls, 4);
  EXPECT_DOUBLE_EQ(best, 95.0);
}

TEST(SgemmPeak, RobustMeasurementIsAPositiveRate) {
  const double gflops =
      cpu::measure_sgemm_peak_gflops({.n = 64, .repetitions = 2, .seconds_each = 0.01, .pause_seconds = 0.0});
  EXPECT_TRUE(std::isfinite(gflops));
  EXPECT_GT(gflops, 0.0);
}

}  // namespace
}  // namespace pouch
