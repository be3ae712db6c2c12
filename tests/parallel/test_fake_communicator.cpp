// parallel/fake_communicator.h: in-process ranks on threads. Every collective
// against a double-precision reference, the async contract, and fault
// injection (failure at collective k on every rank, a late rank past the
// deadline named in the watchdog's report).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>

#include "parallel/fake_communicator.h"
#include "parallel/watchdog.h"
#include "tests/parallel/collective_reference.h"
#include "tests/parallel/fake_ranks.h"

namespace pouch {
namespace {

using test::as_doubles;
using test::expect_close;
using test::on_ranks;
using test::rank_data;
using test::reference_reduce;

struct Case {
  DType dtype;
  ReduceOp op;
};
const Case kCases[] = {{DType::F32, ReduceOp::Sum}, {DType::F32, ReduceOp::Avg}, {DType::F32, ReduceOp::Max},
                       {DType::F64, ReduceOp::Sum}, {DType::F64, ReduceOp::Avg}, {DType::I32, ReduceOp::Sum},
                       {DType::I32, ReduceOp::Max}};

std::string label(const char* what, int world, int rank, const Case& c) {
  return std::string(what) + " world " + std::to_string(world) + " rank " + std::to_string(rank) + " " +
         std::string(dtype_name(c.dtype)) + " " + reduce_op_name(c.op);
}

class FakeCollectives : public ::testing::TestWithParam<int> {};

TEST_P(FakeCollectives, AllReduceMatchesReference) {
  const int world = GetParam();
  auto comms = make_fake_group(world);
  const std::int64_t n = 37;
  on_ranks(world, [&](int r) {
    std::uint32_t salt = 1;
    for (const Case& c : kCases) {
      Tensor t = rank_data(c.dtype, n, r, salt);
      comms[static_cast<std::size_t>(r)]->all_reduce(t, c.op);
      expect_close(as_doubles(t), reference_reduce(c.dtype, n, world, salt, c.op), c.dtype,
                   label("all_reduce", world, r, c));
      ++salt;
    }
  });
}

TEST_P(FakeCollectives, ReduceScatterMatchesReference) {
  const int world = GetParam();
  auto comms = make_fake_group(world);
  const std::int64_t per_rank = 5;
  on_ranks(world, [&](int r) {
    std::uint32_t salt = 100;
    for (const Case& c : kCases) {
      Tensor in = rank_data(c.dtype, per_rank * world, r, salt);
      Tensor out = Tensor::zeros({per_rank}, c.dtype);
      comms[static_cast<std::size_t>(r)]->reduce_scatter(out, in, c.op);
      const auto full = reference_reduce(c.dtype, per_rank * world, world, salt, c.op);
      expect_close(as_doubles(out), test::slice(full, static_cast<std::size_t>(r * per_rank), per_rank), c.dtype,
                   label("reduce_scatter", world, r, c));
      ++salt;
    }
  });
}

TEST_P(FakeCollectives, AllGatherAndBroadcastMatchReference) {
  const int world = GetParam();
  auto comms = make_fake_group(world);
  const std::int64_t n = 11;
  on_ranks(world, [&](int r) {
    Communicator& comm = *comms[static_cast<std::size_t>(r)];
    for (DType dtype : {DType::F32, DType::F64, DType::I32}) {
      Tensor out = Tensor::zeros({n * world}, dtype);
      comm.all_gather(out, rank_data(dtype, n, r, 7));
      const auto got = as_doubles(out);
      for (int src = 0; src < world; ++src)
        expect_close(test::slice(got, static_cast<std::size_t>(src * n), n), as_doubles(rank_data(dtype, n, src, 7)),
                     dtype, "all_gather slot " + std::to_string(src));
      for (int root = 0; root < world; ++root) {
        Tensor t = rank_data(dtype, n, r, 50 + static_cast<std::uint32_t>(root));
        comm.broadcast(t, root);
        expect_close(as_doubles(t), as_doubles(rank_data(dtype, n, root, 50 + static_cast<std::uint32_t>(root))), dtype,
                     "broadcast from root " + std::to_string(root));
      }
    }
    comm.barrier();
  });
}

INSTANTIATE_TEST_SUITE_P(WorldSizes, FakeCollectives, ::testing::Values(1, 2, 3, 4));

TEST(FakeCommunicator, AllReduceIsBitwiseIdenticalOnEveryRank) {
  const int world = 4;
  auto comms = make_fake_group(world);
  std::vector<Tensor> results(world);
  on_ranks(world, [&](int r) {
    Tensor t = rank_data(DType::F32, 1001, r, 9);
    comms[static_cast<std::size_t>(r)]->all_reduce(t, ReduceOp::Sum);
    results[static_cast<std::size_t>(r)] = t;
  });
  for (int r = 1; r < world; ++r)
    EXPECT_EQ(std::memcmp(results[0].raw(), results[static_cast<std::size_t>(r)].raw(), results[0].nbytes()), 0)
        << "rank " << r;
}

TEST(FakeCommunicator, AsyncHandlesCompleteInIssueOrderWithSequenceNumbers) {
  const int world = 3;
  auto comms = make_fake_group(world);
  const int k = 24;
  on_ranks(world, [&](int r) {
    Communicator& comm = *comms[static_cast<std::size_t>(r)];
    std::vector<Tensor> tensors;
    std::vector<WorkHandle> works;
    for (int i = 0; i < k; ++i) {
      tensors.push_back(rank_data(DType::F32, 64 + i, r, 300 + static_cast<std::uint32_t>(i)));
      works.push_back(comm.all_reduce_async(tensors.back(), ReduceOp::Sum));
      EXPECT_EQ(works.back()->sequence(), static_cast<std::uint64_t>(i + 1));
    }
    Tensor gathered = Tensor::zeros({4 * world}, DType::I32);
    Tensor mine = Tensor::empty({4}, DType::I32);
    for (int i = 0; i < 4; ++i) mine.data<std::int32_t>()[i] = r * 10 + i;
    WorkHandle gather = comm.all_gather_async(gathered, mine);
    EXPECT_EQ(gather->sequence(), static_cast<std::uint64_t>(k + 1));
    // Waiting in reverse: the last one done implies all before it are done.
    gather->wait();
    for (int i = 0; i < k; ++i) EXPECT_TRUE(works[static_cast<std::size_t>(i)]->done()) << i;
    for (int i = k - 1; i >= 0; --i) {
      ASSERT_TRUE(works[static_cast<std::size_t>(i)]->wait_for(std::chrono::seconds(10)));
      EXPECT_EQ(works[static_cast<std::size_t>(i)]->error(), nullptr);
      expect_close(as_doubles(tensors[static_cast<std::size_t>(i)]),
                   reference_reduce(DType::F32, 64 + i, world, 300 + static_cast<std::uint32_t>(i), ReduceOp::Sum),
                   DType::F32, "async all_reduce " + std::to_string(i));
    }
    for (int src = 0; src < world; ++src)
      for (int i = 0; i < 4; ++i) EXPECT_EQ(gathered.data<std::int32_t>()[src * 4 + i], src * 10 + i);
  });
}

TEST(FakeCommunicator, WaitForTimesOutWhileAPeerIsLate) {
  auto world = std::make_shared<FakeWorld>(2);
  world->inject_delay(1, 1, std::chrono::milliseconds(300));
  FakeCommunicator r0(world, 0, {5.0, nullptr, nullptr}), r1(world, 1, {5.0, nullptr, nullptr});
  Tensor a = Tensor::zeros({4}), b = Tensor::zeros({4});
  WorkHandle w0 = r0.all_reduce_async(a, ReduceOp::Sum);
  WorkHandle w1 = r1.all_reduce_async(b, ReduceOp::Sum);
  EXPECT_FALSE(w0->wait_for(std::chrono::milliseconds(50)));
  EXPECT_FALSE(w0->done());
  w0->wait();
  w1->wait();
  EXPECT_TRUE(w0->done() && w1->done());
}

// Runs `count` blocking all-reduces on every rank; returns, per rank, the
// message of each collective that failed ("" where it succeeded).
std::vector<std::vector<std::string>> run_with_faults(std::shared_ptr<FakeWorld> world, int count,
                                                      const CommOptions& options) {
  std::vector<std::vector<std::string>> errors(static_cast<std::size_t>(world->size()));
  on_ranks(world->size(), [&](int r) {
    FakeCommunicator comm(world, r, options);
    for (int i = 0; i < count; ++i) {
      Tensor t = Tensor::zeros({16});
      try {
        comm.all_reduce(t, ReduceOp::Sum);
        errors[static_cast<std::size_t>(r)].push_back("");
      } catch (const CollectiveError& e) {
        errors[static_cast<std::size_t>(r)].push_back(e.what());
      }
    }
  });
  return errors;
}

TEST(FakeCommunicator, FailureAtCollectiveKSurfacesOnEveryRank) {
  auto world = std::make_shared<FakeWorld>(4, "dp");
  world->inject_failure(2, 3);
  const auto errors = run_with_faults(world, 5, {10.0, nullptr, nullptr});
  for (int r = 0; r < 4; ++r) {
    const auto& e = errors[static_cast<std::size_t>(r)];
    ASSERT_EQ(e.size(), 5u);
    EXPECT_EQ(e[0], "") << "rank " << r;
    EXPECT_EQ(e[1], "") << "rank " << r;
    EXPECT_NE(e[2].find("injected failure on rank 2 at collective 3"), std::string::npos)
        << "rank " << r << ": " << e[2];
    EXPECT_NE(e[2].find("'dp'"), std::string::npos) << e[2];
    // A failed group stays failed: later collectives fail at once, naming the cause.
    EXPECT_NE(e[3].find("failed earlier"), std::string::npos) << "rank " << r << ": " << e[3];
    EXPECT_NE(e[4].find("injected failure on rank 2"), std::string::npos) << "rank " << r << ": " << e[4];
  }
}

TEST(FakeCommunicator, LateRankPastDeadlineIsNamedByTheWatchdog) {
  auto world = std::make_shared<FakeWorld>(3, "tp");
  world->inject_delay(1, 2, std::chrono::milliseconds(700));
  auto policy = std::make_shared<RecordingPolicy>();
  const auto start = std::chrono::steady_clock::now();
  const auto errors = run_with_faults(world, 3, {0.2, nullptr, policy});
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);

  for (int r : {0, 2}) {
    const auto& e = errors[static_cast<std::size_t>(r)];
    EXPECT_EQ(e[0], "");
    EXPECT_NE(e[1].find("waiting for rank 1"), std::string::npos) << "rank " << r << ": " << e[1];
  }
  // The late rank fails too when it arrives: nobody continues alone.
  EXPECT_NE(errors[1][1].find("failed"), std::string::npos) << errors[1][1];
  EXPECT_NE(errors[1][1].find("waiting for rank 1"), std::string::npos) << errors[1][1];

  const auto reports = policy->reports();
  ASSERT_FALSE(reports.empty());
  for (const TimeoutReport& rep : reports) {
    EXPECT_EQ(rep.group, "tp");
    EXPECT_EQ(rep.sequence, 2u);
    EXPECT_EQ(rep.missing, std::vector<int>{1});
    EXPECT_NE(rep.world_rank, 1);
    EXPECT_NE(rep.flight_record.find("flight record of rank"), std::string::npos);
    EXPECT_NE(rep.flight_record.find("all_reduce(sum, f32 x 16)"), std::string::npos) << rep.flight_record;
    EXPECT_NE(rep.describe().find("parallel.timeout_s"), std::string::npos);
  }
}

TEST(FakeCommunicator, DelayWithinDeadlineSucceeds) {
  auto world = std::make_shared<FakeWorld>(2);
  world->inject_delay(0, 1, std::chrono::milliseconds(100));
  const auto errors = run_with_faults(world, 2, {5.0, nullptr, nullptr});
  for (const auto& e : errors)
    for (const auto& msg : e) EXPECT_EQ(msg, "");
}

TEST(FakeCommunicator, MismatchedCollectivesFailOnEveryRank) {
  auto comms = make_fake_group(2);
  std::vector<std::string> errors(2);
  on_ranks(2, [&](int r) {
    Tensor t = Tensor::zeros({8});
    try {
      if (r == 0)
        comms[0]->all_reduce(t, ReduceOp::Sum);
      else
        comms[1]->broadcast(t, 0);
    } catch (const CollectiveError& e) {
      errors[static_cast<std::size_t>(r)] = e.what();
    }
  });
  for (const auto& e : errors) EXPECT_NE(e.find("does not match across ranks"), std::string::npos) << e;
}

TEST(FakeCommunicator, InvalidArgumentsThrowAtTheCall) {
  auto comms = make_fake_group(2);
  Communicator& c = *comms[0];
  EXPECT_THROW(c.all_reduce_async(Tensor::zeros({4}, DType::BF16), ReduceOp::Sum), Error);
  EXPECT_THROW(c.all_reduce_async(Tensor::zeros({4}, DType::I32), ReduceOp::Avg), Error);
  EXPECT_THROW(c.reduce_scatter_async(Tensor::zeros({3}), Tensor::zeros({8}), ReduceOp::Sum), Error);
  EXPECT_THROW(c.all_gather_async(Tensor::zeros({7}), Tensor::zeros({4})), Error);
  EXPECT_THROW(c.broadcast_async(Tensor::zeros({4}), 2), Error);
  try {
    c.reduce_scatter_async(Tensor::zeros({3}), Tensor::zeros({8}), ReduceOp::Sum);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("group 'world' (rank 0)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pouch
