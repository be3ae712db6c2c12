// The pass rule of compare.h, which every harness case goes through.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/runtime/op_harness/compare.h"

namespace pouch::op_harness {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(HarnessCompare, RelativeL2AgainstTheBound) {
  const Comparison c = compare({1.0, 2.0, 2.0 + 2.7e-5}, {1.0, 2.0, 2.0}, 1e-5);
  EXPECT_NEAR(c.error, 9e-6, 1e-9);  // ||(0, 0, 2.7e-5)|| / ||(1, 2, 2)|| = 2.7e-5 / 3
  EXPECT_TRUE(c.ok);
  EXPECT_FALSE(compare({1.0, 2.0, 2.0 + 6e-5}, {1.0, 2.0, 2.0}, 1e-5).ok);
  EXPECT_TRUE(compare({5.0}, {5.0}, 0.0).ok);
  EXPECT_FALSE(compare({5.0}, {std::nextafter(5.0, 6.0)}, 0.0).ok);
}

TEST(HarnessCompare, NaNNeverPasses) {
  EXPECT_FALSE(compare({1.0, kNaN}, {1.0, 2.0}, kInf).ok);
  EXPECT_FALSE(compare({1.0, 2.0}, {1.0, kNaN}, kInf).ok);
  EXPECT_FALSE(compare({kNaN}, {kNaN}, kInf).ok);
}

TEST(HarnessCompare, InfinitiesMustMatchExactly) {
  EXPECT_TRUE(compare({-kInf, 1.0}, {-kInf, 1.0}, 0.0).ok);
  EXPECT_FALSE(compare({kInf, 1.0}, {-kInf, 1.0}, kInf).ok);
  EXPECT_FALSE(compare({1e30, 1.0}, {kInf, 1.0}, kInf).ok);
  EXPECT_FALSE(compare({kInf}, {1.0}, kInf).ok);
}

TEST(HarnessCompare, AllZeroReferenceIsAbsolute) {
  EXPECT_TRUE(compare({0.0, 0.0}, {0.0, 0.0}, 0.0).ok);
  const Comparison c = compare({3e-6, 4e-6}, {0.0, 0.0}, 1e-5);
  EXPECT_NEAR(c.error, 5e-6, 1e-12);
  EXPECT_TRUE(c.ok);
  EXPECT_FALSE(compare({3e-5, 4e-5}, {0.0, 0.0}, 1e-5).ok);
}

TEST(HarnessCompare, SizeMismatchFails) { EXPECT_FALSE(compare({1.0}, {1.0, 1.0}, kInf).ok); }

}  // namespace
}  // namespace pouch::op_harness
