// parallel/parallel_context.h: the world of one without a launcher, and fake
// (tp, dp) contexts whose groups talk concurrently from each rank's thread.
#include <gtest/gtest.h>

#include <numeric>

#include "parallel/flight_recorder.h"
#include "parallel/parallel_context.h"
#include "tests/parallel/fake_ranks.h"

namespace pouch {
namespace {

TEST(ParallelContext, WithoutALauncherIsAWorldOfOne) {
  const auto ctx = ParallelContext::create({});
  EXPECT_EQ(ctx->world_size(), 1);
  EXPECT_EQ(ctx->rank(), 0);
  EXPECT_EQ(ctx->tp_size(), 1);
  EXPECT_EQ(ctx->dp_size(), 1);
  EXPECT_EQ(ctx->local_rank(), 0);
  EXPECT_TRUE(ctx->is_root());
  EXPECT_EQ(ctx->world().name(), "world");
  EXPECT_EQ(ctx->tp().name(), "tp");
  EXPECT_EQ(ctx->dp().name(), "dp");
  Tensor t = Tensor::zeros({4});
  t.fill_(2.0f);
  ctx->dp().all_reduce(t, ReduceOp::Avg);
  EXPECT_EQ(t.f32()[3], 2.0f);
  EXPECT_NE(ctx->describe().find("world 1 = tp 1 x dp 1"), std::string::npos) << ctx->describe();
}

TEST(ParallelContext, WithoutALauncherRefusesMoreThanOneRank) {
  try {
    ParallelContext::create({2, 0, 300, 64});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("world size 1"), std::string::npos) << e.what();
  }
}

TEST(ParallelContext, FakeGroupsFollowTheLayoutAndWorkConcurrently) {
  const int tp = 2, dp = 3;
  auto ranks = ParallelContext::fake({tp, dp, 20.0, 16});
  ASSERT_EQ(ranks.size(), 6u);
  test::on_ranks(tp * dp, [&](int r) {
    ParallelContext& ctx = *ranks[static_cast<std::size_t>(r)];
    EXPECT_EQ(ctx.rank(), r);
    EXPECT_EQ(ctx.tp_rank(), r % tp);
    EXPECT_EQ(ctx.dp_rank(), r / tp);
    EXPECT_EQ(ctx.tp().rank(), ctx.tp_rank());
    EXPECT_EQ(ctx.dp().size(), dp);
    // tp and dp all-reduces in flight at the same time, as the trainer does
    // (tp in the model, dp in the gradient reducer).
    for (int step = 0; step < 5; ++step) {
      Tensor tp_t = Tensor::empty({3}, DType::I32), dp_t = Tensor::empty({3}, DType::I32);
      for (int i = 0; i < 3; ++i) tp_t.i32()[i] = dp_t.i32()[i] = r + step;
      WorkHandle dp_work = ctx.dp().all_reduce_async(dp_t, ReduceOp::Sum);
      ctx.tp().all_reduce(tp_t, ReduceOp::Sum);
      dp_work->wait();
      const auto& tm = ctx.layout().tp_members;
      const auto& dm = ctx.layout().dp_members;
      EXPECT_EQ(tp_t.i32()[0], std::accumulate(tm.begin(), tm.end(), 0) + tp * step);
      EXPECT_EQ(dp_t.i32()[2], std::accumulate(dm.begin(), dm.end(), 0) + dp * step);
    }
    ctx.world().barrier();
    EXPECT_NE(ctx.flight_recorder().dump().find("dp"), std::string::npos);
  });
}

}  // namespace
}  // namespace pouch
