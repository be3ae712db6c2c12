// kill -9 crash safety: a writer saving checkpoints in a loop
// (crash_writer_driver.cpp) is SIGKILLed at random moments; after every kill
// each published checkpoint and the one `latest` names verify and load, and
// the next run resumes from the newest one.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "checkpoint/checkpoint_dir.h"
#include "checkpoint_test_util.h"
#include "state_fixture.h"

namespace pouch {
namespace {

void kill_writer_after(const std::string& dir, std::chrono::milliseconds delay) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl(POUCH_CHECKPOINT_CRASH_WRITER, POUCH_CHECKPOINT_CRASH_WRITER, dir.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(delay);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the writer ended before the kill (exit " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1) << ")";
}

TEST(CrashSafety, KillNineNeverBreaksPublishedCheckpoints) {
  testing::TempDir tmp;
  const std::string dir = tmp.file("run");
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> delay_ms(20, 400);
  std::int64_t newest = 0;
  const int trials = 24;
  for (int trial = 0; trial < trials; ++trial) {
    int ms = delay_ms(rng);
    kill_writer_after(dir, std::chrono::milliseconds(ms));
    for (const auto& c : list_checkpoints(dir)) {
      SCOPED_TRACE(::testing::Message() << "trial " << trial << " (killed after " << ms << " ms): " << c.dir);
      EXPECT_NO_THROW(verify_checkpoint_file(c.file));
      CheckpointState got = testing::fixture_targets(0, 1);
      EXPECT_NO_THROW(read_checkpoint_file(c.file, got, {.verify = false}));
      EXPECT_EQ(got.meta.step, c.step);
      EXPECT_EQ(testing::fixture_mismatch(got), "");
    }
    if (std::filesystem::exists(dir + "/latest")) {
      std::string named = testing::read_text(dir + "/latest");
      ASSERT_FALSE(named.empty());
      named.pop_back();
      EXPECT_NO_THROW(verify_checkpoint_file(dir + "/" + named + "/state.h5")) << "latest names " << named;
    }
    auto found = find_latest_complete(dir);
    if (found) {
      EXPECT_GE(found->step, newest) << "a published checkpoint went missing";
      newest = found->step;
    }
  }
  // The writer must have made progress across the kills, or the test proved nothing.
  EXPECT_GE(newest, 3);
}

}  // namespace
}  // namespace pouch
