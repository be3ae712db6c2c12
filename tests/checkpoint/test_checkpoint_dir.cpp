// The checkpoint directory: publish, prune, latest, and recovery from
// leftovers and corruption (world of one).
#include <gtest/gtest.h>

#include <filesystem>

#include "checkpoint/checkpoint_dir.h"
#include "checkpoint_test_util.h"
#include "state_fixture.h"

namespace pouch {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::vector<std::int64_t> steps_in(const std::string& dir) {
  std::vector<std::int64_t> out;
  for (const auto& c : list_checkpoints(dir)) out.push_back(c.step);
  return out;
}

std::string save(const std::string& dir, std::int64_t step, RetentionPolicy keep = {}) {
  return save_checkpoint(dir, testing::fixture_state(0, 0, 1, step), CheckpointGroup::single(), keep);
}

TEST(CheckpointDir, StepNames) {
  EXPECT_EQ(step_dir_name(100), "step-00000100");
  EXPECT_EQ(step_dir_name(1234567890), "step-1234567890");
  EXPECT_EQ(parse_step_dir_name("step-00000100"), 100);
  EXPECT_FALSE(parse_step_dir_name("step-00000100.tmp"));
  EXPECT_FALSE(parse_step_dir_name("step-12"));
  EXPECT_FALSE(parse_step_dir_name("latest"));
}

TEST(CheckpointDir, PublishWritesStepDirAndLatest) {
  TempDir tmp;
  std::string dir = tmp.file("run");
  std::string file = save(dir, 100);
  EXPECT_EQ(file, dir + "/step-00000100/state.h5");
  EXPECT_EQ(testing::read_text(dir + "/latest"), "step-00000100\n");
  EXPECT_FALSE(fs::exists(dir + "/step-00000100.tmp"));
  auto found = find_latest_complete(dir);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->step, 100);
  CheckpointState got = testing::fixture_targets(0, 1);
  read_checkpoint_file(found->file, got);
  EXPECT_EQ(testing::fixture_mismatch(got), "");
  // Saving the same step again replaces it.
  save(dir, 100);
  EXPECT_EQ(steps_in(dir), std::vector<std::int64_t>{100});
}

TEST(CheckpointDir, PruneKeepsLastAndMilestones) {
  TempDir tmp;
  std::string dir = tmp.file("run");
  for (std::int64_t step = 1; step <= 9; ++step) save(dir, step, {.keep_last = 2, .keep_every = 4, .keep_steps = {}});
  EXPECT_EQ(steps_in(dir), (std::vector<std::int64_t>{4, 8, 9}));
  save(dir, 10, {.keep_last = 2, .keep_every = 4, .keep_steps = {}});
  EXPECT_EQ(steps_in(dir), (std::vector<std::int64_t>{4, 8, 9, 10}));
  save(dir, 11, {.keep_last = 2, .keep_every = 0, .keep_steps = {}});
  EXPECT_EQ(steps_in(dir), (std::vector<std::int64_t>{10, 11}));
  EXPECT_EQ(find_latest_complete(dir)->step, 11);
}

TEST(CheckpointDir, PruneKeepsPhaseBoundaries) {
  // A schedule's phase ends (here 3 and 5) stay: --phases starts a later phase from them.
  TempDir tmp;
  std::string dir = tmp.file("run");
  for (std::int64_t step = 1; step <= 8; ++step)
    save(dir, step, {.keep_last = 2, .keep_every = 0, .keep_steps = {3, 5}});
  EXPECT_EQ(steps_in(dir), (std::vector<std::int64_t>{3, 5, 7, 8}));
}

TEST(CheckpointDir, LeftoverTmpIsIgnoredThenCleaned) {
  TempDir tmp;
  std::string dir = tmp.file("run");
  save(dir, 1);
  fs::create_directories(dir + "/step-00000002.tmp");
  testing::write_text(dir + "/step-00000002.tmp/state.h5", "half a file");
  testing::write_text(dir + "/notes.txt", "garbage beside the checkpoints");
  EXPECT_EQ(find_latest_complete(dir)->step, 1);
  save(dir, 3);
  EXPECT_FALSE(fs::exists(dir + "/step-00000002.tmp"));
  EXPECT_TRUE(fs::exists(dir + "/notes.txt"));
  EXPECT_EQ(find_latest_complete(dir)->step, 3);
}

TEST(CheckpointDir, CorruptNewestFallsBackToPrevious) {
  TempDir tmp;
  std::string dir = tmp.file("run");
  save(dir, 1);
  std::string newest = save(dir, 2);
  auto size = fs::file_size(newest);
  fs::resize_file(newest, size / 2);
  ::testing::internal::CaptureStderr();
  auto found = find_latest_complete(dir);
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->step, 1);
  EXPECT_NE(log.find("step-00000002"), std::string::npos) << log;
}

TEST(CheckpointDir, MissingLatestOrEmptyDir) {
  TempDir tmp;
  std::string dir = tmp.file("run");
  EXPECT_FALSE(find_latest_complete(dir));  // no directory at all
  save(dir, 5);
  save(dir, 6);
  fs::remove(dir + "/latest");
  EXPECT_EQ(find_latest_complete(dir)->step, 6);
  testing::write_text(dir + "/latest", "garbage\n");
  EXPECT_EQ(find_latest_complete(dir)->step, 6);
  fs::remove_all(dir + "/step-00000005");
  fs::remove_all(dir + "/step-00000006");
  EXPECT_FALSE(find_latest_complete(dir));
}

}  // namespace
}  // namespace pouch
