// parallel/flight_recorder.h: the ring of the last N collectives.
#include <gtest/gtest.h>

#include "parallel/flight_recorder.h"

namespace pouch {
namespace {

CollectiveDesc all_reduce_of(std::int64_t n) { return {CollectiveKind::AllReduce, ReduceOp::Sum, DType::F32, n, 0}; }

TEST(FlightRecorder, KeepsTheLastNInOrderWithTheirStates) {
  FlightRecorder rec(3, 4);
  std::vector<std::uint64_t> ids;
  for (int i = 1; i <= 6; ++i)
    ids.push_back(rec.queued(i % 2 ? "dp" : "tp", static_cast<std::uint64_t>(i), all_reduce_of(i)));
  rec.running(ids[3]);
  rec.done(ids[3]);
  rec.running(ids[4]);
  rec.failed(ids[4], "peer rank 2 failed");
  rec.running(ids[0]);  // dropped from the ring already: ignored

  const auto entries = rec.snapshot();
  ASSERT_EQ(entries.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(entries[i].id, ids[i + 2]);
  EXPECT_EQ(entries[0].state, CollectiveState::Queued);
  EXPECT_EQ(entries[1].state, CollectiveState::Done);
  EXPECT_EQ(entries[2].state, CollectiveState::Failed);
  EXPECT_EQ(entries[2].error, "peer rank 2 failed");
  EXPECT_EQ(entries[3].sequence, 6u);
  EXPECT_EQ(entries[3].group, "tp");
  EXPECT_EQ(entries[1].desc.bytes(), 4u * 4);

  const std::string dump = rec.dump();
  EXPECT_NE(dump.find("flight record of rank 3 (last 4 collectives"), std::string::npos) << dump;
  EXPECT_NE(dump.find("all_reduce(sum, f32 x 5)"), std::string::npos) << dump;
  EXPECT_NE(dump.find("FAILED"), std::string::npos) << dump;
  EXPECT_NE(dump.find("error: peer rank 2 failed"), std::string::npos) << dump;
  EXPECT_NE(dump.find("queued"), std::string::npos) << dump;
}

TEST(FlightRecorder, DescribesEveryKindOfCollective) {
  EXPECT_EQ(all_reduce_of(8).str(), "all_reduce(sum, f32 x 8)");
  EXPECT_EQ((CollectiveDesc{CollectiveKind::ReduceScatter, ReduceOp::Avg, DType::F64, 6, 0}).str(),
            "reduce_scatter(avg, f64 x 6)");
  EXPECT_EQ((CollectiveDesc{CollectiveKind::AllGather, ReduceOp::Sum, DType::I32, 3, 0}).str(), "all_gather(i32 x 3)");
  EXPECT_EQ((CollectiveDesc{CollectiveKind::Broadcast, ReduceOp::Sum, DType::F32, 2, 1}).str(),
            "broadcast(root 1, f32 x 2)");
  EXPECT_EQ(CollectiveDesc{}.str(), "barrier");
}

}  // namespace
}  // namespace pouch
