// GradientBucketReducer over the in-process fake communicator: buckets tile
// the gradient buffer from its end, a bucket is issued as soon as its last
// gradient is ready (overlap) and in order, and finish() leaves every rank
// with the sum of all ranks' gradients.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "parallel/fake_communicator.h"
#include "parallel/gradient_bucket_reducer.h"

namespace pouch {
namespace {

// Parameters of 10, 7, 33, 5 and 64 floats (flat buffer with 16-float alignment).
void declare(ParameterStore& s) {
  s.add("a", {10});
  s.add("b", {7});
  s.add("c", {3, 11});
  s.add("d", {5});
  s.add("e", {8, 8});
}

TEST(GradientBucketReducer, BucketsTileTheBufferFromTheEnd) {
  auto be = make_backend(Device::CPU);
  ParameterStore s;
  declare(s);
  s.allocate(*be);
  auto comms = make_fake_group(1, "dp");
  // 40 floats per bucket: e (64) alone; d+c (offsets 64..112 -> 48); b+a.
  GradientBucketReducer r(s, *comms[0], {40 * 4, true});
  ASSERT_EQ(r.num_buckets(), 3u);
  EXPECT_EQ(r.bucket_range(0).second, s.grads().numel());
  EXPECT_EQ(r.bucket_range(0).first, s.find("e")->offset);
  EXPECT_EQ(r.bucket_range(1).first, s.find("c")->offset);
  EXPECT_EQ(r.bucket_range(1).second, r.bucket_range(0).first);
  EXPECT_EQ(r.bucket_range(2).first, 0);
  EXPECT_EQ(r.bucket_range(2).second, r.bucket_range(1).first);
}

TEST(GradientBucketReducer, OverlapIssuesEachBucketWhenReadyAndSumsOverRanks) {
  constexpr int kRanks = 3;
  auto comms = make_fake_group(kRanks, "dp");
  std::vector<std::thread> threads;
  std::vector<std::vector<float>> results(kRanks);
  std::vector<std::vector<std::size_t>> issued_after(kRanks);
  for (int rank = 0; rank < kRanks; ++rank) {
    threads.emplace_back([&, rank] {
      auto be = make_backend(Device::CPU);
      ParameterStore s;
      declare(s);
      s.allocate(*be);
      GradientBucketReducer r(s, *comms[rank], {40 * 4, true});
      for (int step = 0; step < 2; ++step) {
        for (auto& p : s)
          for (std::int64_t i = 0; i < p.grad.numel(); ++i) p.grad.f32()[i] = float(rank + 1) * (i + 1) + step;
        r.begin();
        // Backward order: the last parameter first.
        for (std::size_t i = s.size(); i-- > 0;) {
          r.mark_ready(s[i]);
          issued_after[rank].push_back(r.issued());
        }
        r.finish();
      }
      const Tensor& g = s.grads();
      results[rank].assign(g.f32(), g.f32() + g.numel());
      // Rank-independent expected sum: sum over ranks of (rank+1)*(i+1) + step, step = 1.
      for (auto& p : s)
        for (std::int64_t i = 0; i < p.grad.numel(); ++i)
          EXPECT_EQ(p.grad.f32()[i], 6.0f * (i + 1) + 3.0f) << p.name << "[" << i << "]";
    });
  }
  for (auto& t : threads) t.join();
  for (int rank = 1; rank < kRanks; ++rank) EXPECT_EQ(results[0], results[rank]);
  // e is ready -> bucket 0 issued at once; d alone leaves bucket 1 pending; c completes it; b; a completes bucket 2.
  const std::vector<std::size_t> want = {1, 1, 2, 2, 3};
  EXPECT_EQ(std::vector<std::size_t>(issued_after[0].begin(), issued_after[0].begin() + 5), want);
}

TEST(GradientBucketReducer, WithoutOverlapNothingIsIssuedBeforeFinish) {
  auto be = make_backend(Device::CPU);
  ParameterStore s;
  declare(s);
  s.allocate(*be);
  auto comms = make_fake_group(1, "dp");
  GradientBucketReducer r(s, *comms[0], {40 * 4, false});
  r.begin();
  for (std::size_t i = s.size(); i-- > 0;) r.mark_ready(s[i]);
  EXPECT_EQ(r.issued(), 0u);
  r.finish();
  EXPECT_EQ(r.issued(), 3u);
}

}  // namespace
}  // namespace pouch
