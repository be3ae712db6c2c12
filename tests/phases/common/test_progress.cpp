// The progress line: MFU is printed as a share of the peak, never above 100%.
#include <gtest/gtest.h>

#include <string>

#include "phases/common/progress.h"

namespace pouch {
namespace {

ProgressInfo sample(double mfu) { return {120, 600, 1.2345, 1e-3, 41200.0, mfu, 72.0}; }

TEST(Progress, LineShowsMfuAsAPercentage) {
  EXPECT_EQ(format_progress(sample(0.381)),
            "step 120/600 | loss 1.2345 | lr 1.00e-03 | 41.2k tok/s | MFU 38.1% | ETA 1m12s");
}

TEST(Progress, MfuAboveThePeakIsPrintedAsAtMostOneHundredPercent) {
  const std::string line = format_progress(sample(2.508));
  EXPECT_NE(line.find("| MFU 100.0% |"), std::string::npos) << line;
  EXPECT_EQ(line.find("250.8"), std::string::npos) << line;
}

}  // namespace
}  // namespace pouch
