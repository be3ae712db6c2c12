// Dynamic loss scaling (runtime/loss_scaler.h): growth after growth_interval
// good steps, backoff and skip on overflow, the min/max clamps, the static
// mode, and a save/restore that continues exactly where it left off.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "runtime/error.h"
#include "runtime/loss_scaler.h"

namespace pouch {
namespace {

LossScalerConfig small_config() {
  LossScalerConfig cfg;
  cfg.init_scale = 8.0;
  cfg.growth_interval = 3;
  cfg.min_scale = 1.0;
  cfg.max_scale = 64.0;
  return cfg;
}

TEST(LossScaler, DefaultsAreGradScalers) {
  LossScaler s;
  EXPECT_EQ(s.scale(), 65536.0);
  EXPECT_EQ(s.config().growth_factor, 2.0);
  EXPECT_EQ(s.config().backoff_factor, 0.5);
  EXPECT_EQ(s.config().growth_interval, 2000);
  EXPECT_EQ(s.config().max_scale, 16777216.0);
  EXPECT_EQ(s.inv_scale(), 1.0f / 65536.0f);
}

TEST(LossScaler, GrowsAfterGrowthIntervalGoodSteps) {
  LossScaler s(small_config());
  EXPECT_TRUE(s.update(false));
  EXPECT_TRUE(s.update(false));
  EXPECT_EQ(s.scale(), 8.0);
  EXPECT_EQ(s.state().good_steps, 2);
  EXPECT_TRUE(s.update(false));  // third good step: grow
  EXPECT_EQ(s.scale(), 16.0);
  EXPECT_EQ(s.state().good_steps, 0);
  for (int i = 0; i < 3; ++i) s.update(false);
  EXPECT_EQ(s.scale(), 32.0);
  EXPECT_EQ(s.state().skipped_steps, 0);
}

TEST(LossScaler, OverflowSkipsBacksOffAndRestartsTheCount) {
  LossScaler s(small_config());
  s.update(false);
  s.update(false);
  EXPECT_FALSE(s.update(true));
  EXPECT_EQ(s.scale(), 4.0);
  EXPECT_EQ(s.state().good_steps, 0);
  EXPECT_EQ(s.state().skipped_steps, 1);
  // Two more good steps are not enough: the count restarted at the overflow.
  s.update(false);
  s.update(false);
  EXPECT_EQ(s.scale(), 4.0);
  s.update(false);
  EXPECT_EQ(s.scale(), 8.0);
}

TEST(LossScaler, ClampsToMinAndMax) {
  LossScalerConfig cfg = small_config();
  cfg.init_scale = 2.0;
  LossScaler s(cfg);
  EXPECT_FALSE(s.update(true));
  EXPECT_EQ(s.scale(), 1.0);
  EXPECT_FALSE(s.update(true));
  EXPECT_EQ(s.scale(), 1.0);  // not below min_scale
  EXPECT_EQ(s.state().skipped_steps, 2);

  cfg.init_scale = 48.0;
  LossScaler t(cfg);
  for (int i = 0; i < 3; ++i) t.update(false);
  EXPECT_EQ(t.scale(), 64.0);  // 96 clamped to max_scale
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(t.update(false));
  EXPECT_EQ(t.scale(), 64.0);
}

TEST(LossScaler, StaticScaleNeverMovesButStillSkipsOverflows) {
  // What bf16 uses: scale 1, not dynamic.
  LossScalerConfig cfg;
  cfg.init_scale = 1.0;
  cfg.dynamic = false;
  cfg.growth_interval = 1;
  LossScaler s(cfg);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(s.update(false));
  EXPECT_FALSE(s.update(true));
  EXPECT_EQ(s.scale(), 1.0);
  EXPECT_EQ(s.state().skipped_steps, 1);
}

TEST(LossScaler, RestoredStateContinuesIdentically) {
  const std::vector<bool> overflow = {false, false, true,  false, false, false, false, true,  false,
                                      false, false, false, false, false, false, true,  false, false};
  LossScaler whole(small_config());
  LossScaler first(small_config());
  std::vector<double> scales;
  for (bool o : overflow) {
    whole.update(o);
    scales.push_back(whole.scale());
  }
  const std::size_t cut = 5;
  for (std::size_t i = 0; i < cut; ++i) first.update(overflow[i]);
  LossScaler resumed(small_config());
  resumed.set_state(first.state());
  for (std::size_t i = cut; i < overflow.size(); ++i) {
    resumed.update(overflow[i]);
    EXPECT_EQ(resumed.scale(), scales[i]) << "step " << i;
  }
  EXPECT_EQ(resumed.state().skipped_steps, whole.state().skipped_steps);
  EXPECT_EQ(resumed.state().good_steps, whole.state().good_steps);
  // The sequence did move the scale both ways, so the comparison means something.
  EXPECT_NE(*std::max_element(scales.begin(), scales.end()), *std::min_element(scales.begin(), scales.end()));
}

TEST(LossScaler, RejectsUnworkableConfigAndState) {
  LossScalerConfig cfg = small_config();
  cfg.init_scale = 128.0;  // above max
  EXPECT_THROW(LossScaler{cfg}, Error);
  cfg = small_config();
  cfg.backoff_factor = 1.0;
  EXPECT_THROW(LossScaler{cfg}, Error);
  cfg = small_config();
  cfg.growth_interval = 0;
  EXPECT_THROW(LossScaler{cfg}, Error);
  cfg = small_config();
  cfg.min_scale = 0.0;
  EXPECT_THROW(LossScaler{cfg}, Error);
  LossScaler s(small_config());
  EXPECT_THROW(s.set_state(LossScalerState{-1.0, 0, 0}), Error);
}

}  // namespace
}  // namespace pouch
