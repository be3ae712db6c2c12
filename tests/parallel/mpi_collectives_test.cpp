// MpiCommunicator on real ranks (run by CTest under mpiexec -np 2 and -np 4):
// every collective against a double-precision reference on random data, the
// async forms with many outstanding handles, two communicators driven from
// two threads at once, and the tp/dp splits of ParallelContext.
//
// Every rank runs every test and issues the same collectives in the same
// order; checks use EXPECT (never a fatal ASSERT between collectives), so a
// failing check on one rank cannot leave the others waiting. Rank 0 prints
// GoogleTest's report; other ranks print only their failures; the exit
// status is non-zero on every rank if any rank failed.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstring>
#include <numeric>
#include <thread>

#include "parallel/comm_options.h"
#include "parallel/mpi_communicator.h"
#include "parallel/mpi_runtime.h"
#include "parallel/parallel_context.h"
#include "tests/parallel/collective_reference.h"

namespace pouch {
namespace {

using test::as_doubles;
using test::expect_close;
using test::rank_data;
using test::reference_reduce;

constexpr double kTimeout = 60.0;

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

// Byte-wise identical on every rank of `comm`: compares with rank 0's copy.
bool identical_on_all_ranks(const Tensor& t, MPI_Comm comm) {
  Tensor root = t.clone();
  MPI_Bcast(root.raw(), static_cast<int>(t.nbytes()), MPI_BYTE, 0, comm);
  int same = std::memcmp(root.raw(), t.raw(), t.nbytes()) == 0;
  MPI_Allreduce(MPI_IN_PLACE, &same, 1, MPI_INT, MPI_LAND, comm);
  return same != 0;
}

struct Case {
  DType dtype;
  ReduceOp op;
};
const Case kCases[] = {{DType::F32, ReduceOp::Sum}, {DType::F32, ReduceOp::Avg}, {DType::F32, ReduceOp::Max},
                       {DType::F64, ReduceOp::Sum}, {DType::F64, ReduceOp::Avg}, {DType::F64, ReduceOp::Max},
                       {DType::I32, ReduceOp::Sum}, {DType::I32, ReduceOp::Max}};

std::string label(const char* what, const Case& c, std::int64_t n) {
  return std::string(what) + " " + std::string(dtype_name(c.dtype)) + " " + reduce_op_name(c.op) +
         " n=" + std::to_string(n) + " rank " + std::to_string(world_rank());
}

TEST(MpiCommunicator, KnowsItsGroup) {
  MpiCommunicator comm(MPI_COMM_WORLD, "world", {kTimeout, nullptr, nullptr});
  EXPECT_EQ(comm.rank(), world_rank());
  EXPECT_EQ(comm.size(), world_size());
  EXPECT_EQ(comm.name(), "world");
  for (int r = 0; r < comm.size(); ++r) EXPECT_EQ(comm.world_rank_of(r), r);
}

TEST(MpiCommunicator, AllReduceMatchesReference) {
  MpiCommunicator comm(MPI_COMM_WORLD, "world", {kTimeout, nullptr, nullptr});
  const int n_ranks = comm.size(), me = comm.rank();
  std::uint32_t salt = 1;
  for (std::int64_t n : {1, 1000, 100003}) {
    for (const Case& c : kCases) {
      Tensor t = rank_data(c.dtype, n, me, salt);
      comm.all_reduce(t, c.op);
      expect_close(as_doubles(t), reference_reduce(c.dtype, n, n_ranks, salt, c.op), c.dtype,
                   label("all_reduce", c, n));
      EXPECT_TRUE(identical_on_all_ranks(t, MPI_COMM_WORLD)) << label("all_reduce not bitwise identical", c, n);
      ++salt;
    }
  }
}

TEST(MpiCommunicator, ReduceScatterMatchesReference) {
  MpiCommunicator comm(MPI_COMM_WORLD, "world", {kTimeout, nullptr, nullptr});
  const int n_ranks = comm.size(), me = comm.rank();
  std::uint32_t salt = 500;
  for (std::int64_t per_rank : {1, 777, 30011}) {
    for (const Case& c : kCases) {
      Tensor in = rank_data(c.dtype, per_rank * n_ranks, me, salt);
      Tensor out = Tensor::zeros({per_rank}, c.dtype);
      comm.reduce_scatter(out, in, c.op);
      const auto full = reference_reduce(c.dtype, per_rank * n_ranks, n_ranks, salt, c.op);
      expect_close(as_doubles(out), test::slice(full, static_cast<std::size_t>(me * per_rank), per_rank), c.dtype,
                   label("reduce_scatter", c, per_rank));
      ++salt;
    }
  }
}

TEST(MpiCommunicator, AllGatherMatchesReferenceAlsoInPlace) {
  MpiCommunicator comm(MPI_COMM_WORLD, "world", {kTimeout, nullptr, nullptr});
  const int n_ranks = comm.size(), me = comm.rank();
  for (DType dtype : {DType::F32, DType::F64, DType::I32}) {
    for (std::int64_t n : {1, 4099}) {
      Tensor out = Tensor::zeros({n * n_ranks}, dtype);
      comm.all_gather(out, rank_data(dtype, n, me, 900));
      Tensor out_in_place = Tensor::zeros({n * n_ranks}, dtype);
      Tensor my_slot = out_in_place.view(n * me, {n});
      std::memcpy(my_slot.raw(), rank_data(dtype, n, me, 900).raw(), my_slot.nbytes());
      comm.all_gather(out_in_place, my_slot);
      for (const Tensor* result : {&out, &out_in_place}) {
        const auto got = as_doubles(*result);
        for (int src = 0; src < n_ranks; ++src)
          expect_close(test::slice(got, static_cast<std::size_t>(src * n), n),
                       as_doubles(rank_data(dtype, n, src, 900)), dtype, "all_gather slot " + std::to_string(src));
      }
    }
  }
}

TEST(MpiCommunicator, BroadcastFromEveryRootAndBarrier) {
  MpiCommunicator comm(MPI_COMM_WORLD, "world", {kTimeout, nullptr, nullptr});
  const int n_ranks = comm.size(), me = comm.rank();
  for (DType dtype : {DType::F32, DType::F64, DType::I32}) {
    for (int root = 0; root < n_ranks; ++root) {
      const std::uint32_t salt = 1200 + static_cast<std::uint32_t>(root);
      Tensor t = rank_data(dtype, 2053, me, salt);
      comm.broadcast(t, root);
      expect_close(as_doubles(t), as_doubles(rank_data(dtype, 2053, root, salt)), dtype,
                   "broadcast from root " + std::to_string(root));
    }
  }
  WorkHandle b = comm.barrier_async();
  b->wait();
  EXPECT_TRUE(b->done());
  EXPECT_EQ(b->error(), nullptr);
}

TEST(MpiCommunicator, ManyOutstandingAsyncHandlesWhileTheMainThreadWorks) {
  MpiCommunicator comm(MPI_COMM_WORLD, "dp", {kTimeout, nullptr, nullptr});
  const int n_ranks = comm.size(), me = comm.rank();
  const int k = 16;
  std::vector<Tensor> buckets;
  std::vector<WorkHandle> works;
  for (int i = 0; i < k; ++i) {
    // Bucket sizes from 1 element to ~1 MiB, like a gradient reducer's.
    const std::int64_t n = i % 4 == 0 ? 1 : (std::int64_t{1} << (i + 2)) + i;
    buckets.push_back(
        rank_data(DType::F32, std::min<std::int64_t>(n, 262147), me, 2000 + static_cast<std::uint32_t>(i)));
    works.push_back(comm.all_reduce_async(buckets.back(), i % 3 == 0 ? ReduceOp::Avg : ReduceOp::Sum));
    EXPECT_EQ(works.back()->sequence(), static_cast<std::uint64_t>(i + 1));
  }
  Tensor gathered = Tensor::zeros({5 * n_ranks}, DType::I32);
  Tensor mine = Tensor::empty({5}, DType::I32);
  for (int i = 0; i < 5; ++i) mine.i32()[i] = me * 100 + i;
  WorkHandle gather = comm.all_gather_async(gathered, mine);
  Tensor bcast = rank_data(DType::F64, 333, me, 2100);
  WorkHandle bcast_work = comm.broadcast_async(bcast, n_ranks - 1);

  // The main thread computes meanwhile (the comm thread is busy with MPI).
  double busy = 0;
  for (int i = 0; i < 2000000; ++i) busy += 1.0 / (1.0 + i);
  EXPECT_GT(busy, 0.0);

  // Waiting in reverse order: all done once the last is.
  bcast_work->wait();
  EXPECT_TRUE(gather->done());
  for (int i = k - 1; i >= 0; --i) {
    const auto idx = static_cast<std::size_t>(i);
    EXPECT_TRUE(works[idx]->done()) << i;
    EXPECT_TRUE(works[idx]->wait_for(std::chrono::milliseconds(0))) << i;
    EXPECT_EQ(works[idx]->error(), nullptr);
    const std::int64_t n = buckets[idx].numel();
    expect_close(as_doubles(buckets[idx]),
                 reference_reduce(DType::F32, n, n_ranks, 2000 + static_cast<std::uint32_t>(i),
                                  i % 3 == 0 ? ReduceOp::Avg : ReduceOp::Sum),
                 DType::F32, "async bucket " + std::to_string(i));
  }
  for (int src = 0; src < n_ranks; ++src)
    for (int i = 0; i < 5; ++i) EXPECT_EQ(gathered.i32()[src * 5 + i], src * 100 + i);
  expect_close(as_doubles(bcast), as_doubles(rank_data(DType::F64, 333, n_ranks - 1, 2100)), DType::F64,
               "async broadcast");
}

TEST(MpiCommunicator, TwoCommunicatorsFromTwoThreadsAtOnce) {
  MpiCommunicator a(MPI_COMM_WORLD, "tp", {kTimeout, nullptr, nullptr});
  MpiCommunicator b(MPI_COMM_WORLD, "dp", {kTimeout, nullptr, nullptr});
  const int n_ranks = a.size(), me = a.rank();
  auto drive = [&](Communicator& comm, std::uint32_t base) {
    for (int i = 0; i < 20; ++i) {
      Tensor t = rank_data(DType::F32, 4096 + i, me, base + static_cast<std::uint32_t>(i));
      comm.all_reduce_async(t, ReduceOp::Sum)->wait();
      expect_close(as_doubles(t),
                   reference_reduce(DType::F32, 4096 + i, n_ranks, base + static_cast<std::uint32_t>(i), ReduceOp::Sum),
                   DType::F32, comm.name() + " step " + std::to_string(i));
    }
  };
  std::thread other([&] { drive(b, 3100); });
  drive(a, 3000);
  other.join();
}

TEST(MpiCommunicator, EveryCollectiveInBothPeerWaitModes) {
  for (PeerWait mode : {PeerWait::Spin, PeerWait::Sleep}) {
    MpiCommunicator comm(MPI_COMM_WORLD, "world", {kTimeout, nullptr, nullptr, mode});
    const std::string what = std::string("peer wait ") + peer_wait_name(mode);
    EXPECT_EQ(comm.peer_wait(), mode);
    const int n_ranks = comm.size(), me = comm.rank();
    Tensor t = rank_data(DType::F32, 999, me, 4000);
    comm.all_reduce(t, ReduceOp::Sum);
    expect_close(as_doubles(t), reference_reduce(DType::F32, 999, n_ranks, 4000, ReduceOp::Sum), DType::F32, what);
    Tensor out = Tensor::zeros({7}, DType::F64);
    comm.reduce_scatter(out, rank_data(DType::F64, 7 * n_ranks, me, 4001), ReduceOp::Max);
    expect_close(as_doubles(out),
                 test::slice(reference_reduce(DType::F64, 7 * n_ranks, n_ranks, 4001, ReduceOp::Max),
                             static_cast<std::size_t>(7 * me), 7),
                 DType::F64, what);
    Tensor gathered = Tensor::zeros({3 * n_ranks}, DType::I32);
    comm.all_gather(gathered, rank_data(DType::I32, 3, me, 4002));
    for (int src = 0; src < n_ranks; ++src)
      expect_close(test::slice(as_doubles(gathered), static_cast<std::size_t>(3 * src), 3),
                   as_doubles(rank_data(DType::I32, 3, src, 4002)), DType::I32, what);
    Tensor b = rank_data(DType::F32, 5, me, 4003);
    comm.broadcast(b, 0);
    expect_close(as_doubles(b), as_doubles(rank_data(DType::F32, 5, 0, 4003)), DType::F32, what);
    comm.barrier();
  }
}

TEST(MpiCommunicator, BadArgumentsThrowBeforeAnyCommunication) {
  MpiCommunicator comm(MPI_COMM_WORLD, "world", {kTimeout, nullptr, nullptr});
  EXPECT_THROW(comm.reduce_scatter_async(Tensor::zeros({3}), Tensor::zeros({3 * comm.size() + 1}), ReduceOp::Sum),
               Error);
  Tensor both = Tensor::zeros({4 * comm.size()});
  EXPECT_THROW(comm.reduce_scatter_async(both.view(0, {4}), both, ReduceOp::Sum), Error);
  EXPECT_THROW(comm.broadcast_async(Tensor::zeros({2}), comm.size()), Error);
  comm.barrier();  // the communicator still works
}

struct Layout {
  int tp, dp;
};

TEST(ParallelContextMpi, SplitsIntoTpAndDpGroups) {
  const int n = world_size();
  std::vector<Layout> layouts;
  for (int tp = 1; tp <= n; ++tp)
    if (n % tp == 0) layouts.push_back({tp, n / tp});  // np 4: (1,4) (2,2) (4,1); np 2: (1,2) (2,1)
  for (const Layout& l : layouts) {
    for (int dp_arg : {l.dp, 0}) {  // dp given, or derived
      const auto ctx = ParallelContext::create({l.tp, dp_arg, kTimeout, 64});
      const std::string what = "tp " + std::to_string(l.tp) + " dp " + std::to_string(l.dp);
      EXPECT_EQ(ctx->world_size(), n) << what;
      EXPECT_EQ(ctx->rank(), world_rank()) << what;
      EXPECT_EQ(ctx->tp_size(), l.tp) << what;
      EXPECT_EQ(ctx->dp_size(), l.dp) << what;
      EXPECT_EQ(ctx->tp().size(), l.tp) << what;
      EXPECT_EQ(ctx->dp().size(), l.dp) << what;
      EXPECT_EQ(ctx->tp().rank(), world_rank() % l.tp) << what;
      EXPECT_EQ(ctx->dp().rank(), world_rank() / l.tp) << what;
      EXPECT_EQ(ctx->launcher(), "Open MPI (mpirun)") << what;
      EXPECT_GE(ctx->local_rank(), 0);
      EXPECT_LT(ctx->local_rank(), ctx->ranks_on_node());
      EXPECT_NE(ctx->peer_wait(), PeerWait::Auto);  // resolved from ranks per node and their CPUs
      // Sum of world ranks over each group = sum of the layout's members.
      Tensor tp_sum = Tensor::empty({1}, DType::I32), dp_sum = Tensor::empty({1}, DType::I32);
      tp_sum.i32()[0] = dp_sum.i32()[0] = world_rank();
      WorkHandle dp_work = ctx->dp().all_reduce_async(dp_sum, ReduceOp::Sum);
      ctx->tp().all_reduce(tp_sum, ReduceOp::Sum);
      dp_work->wait();
      const auto& tm = ctx->layout().tp_members;
      const auto& dm = ctx->layout().dp_members;
      EXPECT_EQ(tp_sum.i32()[0], std::accumulate(tm.begin(), tm.end(), 0)) << what;
      EXPECT_EQ(dp_sum.i32()[0], std::accumulate(dm.begin(), dm.end(), 0)) << what;
      ctx->world().barrier();
    }
  }
}

TEST(ParallelContextMpi, LayoutNotFittingTheWorldIsRefusedOnEveryRank) {
  const int n = world_size();
  std::string message;
  try {
    ParallelContext::create({n + 1, 1, kTimeout, 64});
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("but the world size is " + std::to_string(n)), std::string::npos) << message;
  // The same text on every rank.
  unsigned long h = std::hash<std::string>{}(message), lo = h, hi = h;
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UNSIGNED_LONG, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UNSIGNED_LONG, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(lo, hi);
}

// Other ranks report failures only, prefixed with their rank.
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (r.failed())
      std::fprintf(stderr, "[rank %d] %s:%d: failure\n%s\n", rank_, r.file_name() ? r.file_name() : "?",
                   r.line_number(), r.summary());
  }

 private:
  int rank_;
};

}  // namespace
}  // namespace pouch

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  pouch::MpiRuntime mpi(&argc, &argv);
  if (mpi.world_rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new pouch::RankFailurePrinter(mpi.world_rank()));
  }
  int failed = RUN_ALL_TESTS() != 0;
  MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return failed;
}
