// lr_at: linear warmup, then constant or cosine to lr * min_lr_ratio.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "runtime/optim_config.h"

namespace pouch {
namespace {

TEST(LrAt, WarmupThenConstant) {
  OptimConfig c;
  c.lr = 1e-3f;
  c.warmup_steps = 4;
  c.schedule = LrSchedule::Constant;
  EXPECT_FLOAT_EQ(lr_at(c, 0, 100), 0.25e-3f);
  EXPECT_FLOAT_EQ(lr_at(c, 1, 100), 0.5e-3f);
  EXPECT_FLOAT_EQ(lr_at(c, 3, 100), 1e-3f);
  EXPECT_FLOAT_EQ(lr_at(c, 4, 100), 1e-3f);
  EXPECT_FLOAT_EQ(lr_at(c, 99, 100), 1e-3f);
}

TEST(LrAt, CosineFromPeakToFloor) {
  OptimConfig c;
  c.lr = 2e-3f;
  c.warmup_steps = 10;
  c.schedule = LrSchedule::Cosine;
  c.min_lr_ratio = 0.1f;
  const std::int64_t total = 110;  // decay over steps 10..109
  EXPECT_FLOAT_EQ(lr_at(c, 9, total), 2e-3f);
  EXPECT_FLOAT_EQ(lr_at(c, 10, total), 2e-3f);
  EXPECT_FLOAT_EQ(lr_at(c, 109, total), 2e-4f);
  EXPECT_FLOAT_EQ(lr_at(c, 500, total), 2e-4f);  // past the end: the floor
  // Halfway through the decay the cosine is at its mean.
  const double progress = 45.0 / 99.0;
  const double want = 2e-4 + 0.5 * (1.0 + std::cos(std::numbers::pi * progress)) * (2e-3 - 2e-4);
  EXPECT_NEAR(lr_at(c, 55, total), want, 1e-9);
  // Monotone after warmup.
  for (std::int64_t s = 11; s < total; ++s) EXPECT_LE(lr_at(c, s, total), lr_at(c, s - 1, total)) << s;
}

TEST(LrAt, CosineWithoutWarmupAndTinyRuns) {
  OptimConfig c;
  c.lr = 1.0f;
  c.warmup_steps = 0;
  c.min_lr_ratio = 0.0f;
  EXPECT_FLOAT_EQ(lr_at(c, 0, 3), 1.0f);
  EXPECT_FLOAT_EQ(lr_at(c, 1, 3), 0.5f);
  EXPECT_NEAR(lr_at(c, 2, 3), 0.0f, 1e-7);
  EXPECT_FLOAT_EQ(lr_at(c, 0, 1), 1.0f);  // a one-step run uses the peak
}

}  // namespace
}  // namespace pouch
