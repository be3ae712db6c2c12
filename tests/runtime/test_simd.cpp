// The AVX2 exp used by softmax, cross-entropy and GELU: accuracy against
// double exp over the whole float range, and its edge cases.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "runtime/cpu/simd.h"

namespace pouch::cpu {
namespace {

#if POUCH_HAVE_AVX2

float exp1(float x) {
  alignas(32) float out[8];
  _mm256_store_ps(out, exp256_ps(_mm256_set1_ps(x)));
  return out[0];
}

// Measured worst case here: 1.17e-7 (2^-23 = 1.19e-7 is one ulp just below a power of two).
TEST(SimdExp, RelativeErrorWithinTwoUlp) {
  double worst = 0.0;
  float worst_x = 0.0f;
  for (float x = -87.3f; x < 88.7f; x += 0.000731f) {
    alignas(32) float in[8], out[8];
    for (int i = 0; i < 8; ++i) in[i] = x + static_cast<float>(i) * 1e-5f;
    _mm256_store_ps(out, exp256_ps(_mm256_load_ps(in)));
    for (int i = 0; i < 8; ++i) {
      const double want = std::exp(static_cast<double>(in[i]));
      const double rel = std::abs(out[i] - want) / want;
      if (rel > worst) {
        worst = rel;
        worst_x = in[i];
      }
    }
  }
  EXPECT_LT(worst, 1.5e-7) << "at x = " << worst_x;
}

TEST(SimdExp, EdgeCases) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(exp1(0.0f), 1.0f);
  EXPECT_EQ(exp1(-88.0f), 0.0f);  // below the normal range: flushed
  EXPECT_EQ(exp1(-inf), 0.0f);
  EXPECT_EQ(exp1(89.0f), inf);
  EXPECT_EQ(exp1(inf), inf);
  EXPECT_TRUE(std::isfinite(exp1(88.7f)));
  EXPECT_NEAR(exp1(88.7f) / std::exp(double{88.7f}), 1.0, 3e-7);
  EXPECT_TRUE(std::isnan(exp1(std::numeric_limits<float>::quiet_NaN())));
}

TEST(SimdExp, HorizontalReductions) {
  const __m256 v = _mm256_setr_ps(1.0f, -2.0f, 3.5f, 4.0f, -5.0f, 6.25f, 0.5f, 7.0f);
  EXPECT_EQ(hsum256_ps(v), 15.25f);
  EXPECT_EQ(hmax256_ps(v), 7.0f);
}

#endif  // POUCH_HAVE_AVX2

}  // namespace
}  // namespace pouch::cpu
