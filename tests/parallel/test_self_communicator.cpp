// parallel/self_communicator.h: the world of one used without a launcher.
#include <gtest/gtest.h>

#include "parallel/self_communicator.h"
#include "tests/parallel/collective_reference.h"

namespace pouch {
namespace {

TEST(SelfCommunicator, CollectivesOfOneRankAreIdentitiesOrCopies) {
  SelfCommunicator self("tp");
  EXPECT_EQ(self.rank(), 0);
  EXPECT_EQ(self.size(), 1);
  EXPECT_EQ(self.name(), "tp");

  for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Max}) {
    Tensor t = test::rank_data(DType::F32, 9, 0, 1);
    self.all_reduce(t, op);
    EXPECT_EQ(test::as_doubles(t), test::as_doubles(test::rank_data(DType::F32, 9, 0, 1)));
  }
  Tensor in = test::rank_data(DType::F64, 6, 0, 2), out = Tensor::zeros({6}, DType::F64);
  self.reduce_scatter(out, in, ReduceOp::Sum);
  EXPECT_EQ(test::as_doubles(out), test::as_doubles(in));
  Tensor gathered = Tensor::zeros({6}, DType::I32), mine = test::rank_data(DType::I32, 6, 0, 3);
  self.all_gather(gathered, mine);
  EXPECT_EQ(test::as_doubles(gathered), test::as_doubles(mine));
  self.broadcast(mine, 0);
  self.barrier();
}

TEST(SelfCommunicator, WorkIsFinishedAtOnceWithIncreasingSequence) {
  SelfCommunicator self;
  Tensor t = Tensor::zeros({3});
  WorkHandle a = self.all_reduce_async(t, ReduceOp::Sum);
  WorkHandle b = self.barrier_async();
  EXPECT_TRUE(a->done());
  EXPECT_TRUE(a->wait_for(std::chrono::milliseconds(0)));
  EXPECT_EQ(a->error(), nullptr);
  EXPECT_EQ(a->sequence(), 1u);
  EXPECT_EQ(b->sequence(), 2u);
}

TEST(SelfCommunicator, ValidatesArgumentsLikeEveryCommunicator) {
  SelfCommunicator self;
  EXPECT_THROW(self.broadcast(Tensor::zeros({2}), 1), Error);
  EXPECT_THROW(self.all_gather(Tensor::zeros({3}), Tensor::zeros({2})), Error);
  EXPECT_THROW(self.all_reduce(Tensor(), ReduceOp::Sum), Error);
}

}  // namespace
}  // namespace pouch
