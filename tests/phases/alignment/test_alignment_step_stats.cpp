// AlignmentStepStats: pack/unpack keep every field, and one dp reduction
// sums every field (over in-process ranks). The static_assert next to
// kAlignmentStepScalars makes a field that is not in the list a compile
// error, so "every field in the list is reduced" covers every field.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "parallel/fake_communicator.h"
#include "phases/alignment/alignment_step_stats.h"
#include "runtime/backend.h"

namespace pouch {
namespace {

// Field k of the list gets base + k, reward dimension d gets base - 1 - d.
AlignmentStepStats numbered(double base, std::size_t dims) {
  AlignmentStepStats s;
  for (std::size_t d = 0; d < dims; ++d) s.reward_dims.push_back(base - 1.0 - static_cast<double>(d));
  for (std::size_t k = 0; k < kAlignmentStepScalars.size(); ++k)
    s.*kAlignmentStepScalars[k] = base + static_cast<double>(k);
  return s;
}

TEST(AlignmentStepStats, PackUnpackRoundTripKeepsEveryField) {
  const AlignmentStepStats s = numbered(10.5, 5);
  const std::vector<double> packed = pack_step_stats(s);
  ASSERT_EQ(packed.size(), 5 + kAlignmentStepScalars.size());
  const AlignmentStepStats back = unpack_step_stats(packed, 5);
  EXPECT_EQ(back.reward_dims, s.reward_dims);
  for (std::size_t k = 0; k < kAlignmentStepScalars.size(); ++k)
    EXPECT_EQ(back.*kAlignmentStepScalars[k], s.*kAlignmentStepScalars[k]) << "field " << k;
}

// The reduction's layout is the one the phase always had: reward dimensions,
// then the rollout sums, the update sums, the KL/entropy sums.
TEST(AlignmentStepStats, PackedLayoutIsDimensionsThenTheListedFields) {
  const AlignmentStepStats s = numbered(100.0, 3);
  const std::vector<double> packed = pack_step_stats(s);
  EXPECT_EQ(packed[0], 99.0);
  EXPECT_EQ(packed[2], 97.0);
  EXPECT_EQ(packed[3], s.reward);
  EXPECT_EQ(packed[3 + 4], s.policy_loss);
  EXPECT_EQ(packed.back(), s.kl_after);
}

TEST(AlignmentStepStats, OneDpReductionSumsEveryField) {
  constexpr int kRanks = 3;
  constexpr std::size_t kDims = 4;
  auto comms = make_fake_group(kRanks, "dp");
  std::vector<AlignmentStepStats> got(kRanks);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < kRanks; ++rank) {
    threads.emplace_back([&, rank] {
      auto be = make_backend(Device::CPU);
      TrainRanks ranks;
      ranks.world_rank = rank;
      ranks.world_size = kRanks;
      ranks.dp = comms[static_cast<std::size_t>(rank)].get();
      AlignmentStepStats s = numbered(10.0 * (rank + 1), kDims);
      sum_over_dp(ranks, *be, s);
      got[static_cast<std::size_t>(rank)] = s;
    });
  }
  for (auto& t : threads) t.join();
  // Sum over ranks of 10 (r + 1) + k = 60 + 3k; of 10 (r + 1) - 1 - d = 57 - 3d.
  for (int rank = 0; rank < kRanks; ++rank) {
    const AlignmentStepStats& s = got[static_cast<std::size_t>(rank)];
    ASSERT_EQ(s.reward_dims.size(), kDims);
    for (std::size_t d = 0; d < kDims; ++d) EXPECT_EQ(s.reward_dims[d], 57.0 - 3.0 * static_cast<double>(d));
    for (std::size_t k = 0; k < kAlignmentStepScalars.size(); ++k)
      EXPECT_EQ(s.*kAlignmentStepScalars[k], 60.0 + 3.0 * static_cast<double>(k)) << "rank " << rank << " field " << k;
  }
}

TEST(AlignmentStepStats, UnpackRejectsAVectorOfTheWrongLength) {
  const std::vector<double> packed = pack_step_stats(numbered(1.0, 2));
  EXPECT_DEATH(unpack_step_stats(packed, 3), "packed step stats");
}

}  // namespace
}  // namespace pouch
