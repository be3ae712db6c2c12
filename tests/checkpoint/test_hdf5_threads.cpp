// HDF5 from two threads of one process: a background thread publishes
// checkpoints (what AsyncCheckpointWriter's thread does) while the main
// thread writes and reads weights files, then every file is verified. The
// HDF5 build pouch links is not thread-safe; checkpoint/ serializes it under
// one lock (checkpoint/hdf5_handle.h). Without that lock this test crashes or
// reports a failed call or a wrong value. The two-rank version, with MPI-IO
// collectives, is hdf5_thread_stress_driver.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/checkpoint_dir.h"
#include "checkpoint_test_util.h"
#include "hdf5_thread_stress.h"
#include "state_fixture.h"

namespace pouch {
namespace {

using testing::TempDir;

TEST(Hdf5Threads, BackgroundCheckpointsWhileTheMainThreadUsesWeightsFiles) {
  TempDir tmp;
  const std::string ckpt_dir = tmp.sub("checkpoints");
  constexpr int kCheckpoints = 50;
  constexpr int kMinRounds = 30;

  std::atomic<bool> writer_done{false};
  std::string writer_error;
  std::thread writer([&] {
    try {
      for (int step = 1; step <= kCheckpoints; ++step)
        save_checkpoint(ckpt_dir, testing::fixture_state(0, 0, 1, step), CheckpointGroup::single());
    } catch (const std::exception& e) {
      writer_error = e.what();
    }
    writer_done = true;
  });

  std::vector<std::string> round_errors;
  int rounds = 0;
  for (; !writer_done || rounds < kMinRounds; ++rounds) {
    try {
      std::string bad = testing::stress_weights_round(tmp.file("w-" + std::to_string(rounds) + ".h5"), 0, rounds);
      if (!bad.empty()) round_errors.push_back(bad);
    } catch (const std::exception& e) {
      round_errors.push_back(e.what());
    }
  }
  writer.join();
  EXPECT_EQ(writer_error, "");
  EXPECT_TRUE(round_errors.empty()) << round_errors.size() << " of " << rounds
                                    << " rounds failed, first: " << (round_errors.empty() ? "" : round_errors.front());

  // Every file, afterwards, on one thread.
  for (int r = 0; r < rounds; ++r)
    EXPECT_EQ(testing::check_stress_weights(tmp.file("w-" + std::to_string(r) + ".h5"), 0, r), "");
  const auto published = list_checkpoints(ckpt_dir);
  ASSERT_EQ(published.size(), static_cast<std::size_t>(kCheckpoints));
  for (const auto& c : published) {
    // model, m and v of each fixture tensor, 2 rng streams, 1 data key
    EXPECT_EQ(verify_checkpoint_file(c.file), static_cast<std::int64_t>(3 * testing::fixture_params().size() + 3))
        << c.file;
    CheckpointState got = testing::fixture_targets(0, 1);
    read_checkpoint_file(c.file, got);
    EXPECT_EQ(got.meta.step, c.step);
    EXPECT_EQ(testing::fixture_mismatch(got), "") << c.file;
    EXPECT_EQ(got.rng_per_rank, testing::fixture_state(0, 0, 1, c.step).rng_per_rank) << c.file;
  }
}

}  // namespace
}  // namespace pouch
