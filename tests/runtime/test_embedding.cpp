// Backend::embedding_forward / embedding_backward: whole table and the
// vocab-parallel shard form (vocab_start > 0, ids outside the shard),
// accumulate, finite differences and thread-count determinism.
#include <gtest/gtest.h>

#include "tests/runtime/reference_ops.h"

namespace pouch {
namespace {

using ref::i64;
using ref::Vec;

TEST(Embedding, ForwardWholeTable) {
  auto be = make_backend(Device::CPU);
  const i64 V = 7, C = 5;
  const std::vector<std::int32_t> ids = {3, 0, 6, 3, 1};
  const auto table = ref::random_floats(V * C, 1);
  Tensor out = ref::nan_tensor({5, C});
  be->embedding_forward(out, ref::make_ids(ids, {5}), ref::make_tensor(table, {V, C}), 0, false);
  EXPECT_TRUE(ref::all_close(out, ref::embedding(ids, ref::to_double(table), V, C, 0), 0.0, 0.0));
}

TEST(Embedding, ForwardShardWithIdsOutsideAndAccumulate) {
  auto be = make_backend(Device::CPU);
  const i64 V = 4, C = 3, start = 5;  // the shard holds ids 5..8
  const std::vector<std::int32_t> ids = {4, 5, 8, 9, 0, 6, 100, 7};
  const i64 N = static_cast<i64>(ids.size());
  const auto table = ref::random_floats(V * C, 2), base = ref::random_floats(N * C, 3);
  Tensor tids = ref::make_ids(ids, {2, 4}), ttable = ref::make_tensor(table, {V, C});

  Tensor out = ref::nan_tensor({2, 4, C});
  be->embedding_forward(out, tids, ttable, start, false);
  EXPECT_TRUE(ref::all_close(out, ref::embedding(ids, ref::to_double(table), V, C, start), 0.0, 0.0));
  for (i64 c = 0; c < C; ++c) EXPECT_EQ(out.f32()[0 * C + c], 0.0f);  // id 4: below the shard
  for (i64 c = 0; c < C; ++c) EXPECT_EQ(out.f32()[3 * C + c], 0.0f);  // id 9: above it

  Tensor acc = ref::make_tensor(base, {2, 4, C});
  be->embedding_forward(acc, tids, ttable, start, true);
  EXPECT_TRUE(
      ref::all_close(acc, ref::embedding(ids, ref::to_double(table), V, C, start, ref::to_double(base)), 1e-7, 1e-7));
  for (i64 c = 0; c < C; ++c) EXPECT_EQ(acc.f32()[3 * C + c], base[3 * C + c]);  // untouched
}

TEST(Embedding, BackwardMatchesFiniteDifferences) {
  auto be = make_backend(Device::CPU);
  const i64 V = 6, C = 9, start = 2;  // ids 2..7
  const std::vector<std::int32_t> ids = {2, 7, 3, 3, 1, 8, 2, 3, 5};
  const i64 N = static_cast<i64>(ids.size());
  const auto table = ref::random_floats(V * C, 4), R = ref::random_floats(N * C, 5), d0 = ref::random_floats(V * C, 6);
  Tensor dtable = ref::make_tensor(d0, {V, C});
  be->embedding_backward(dtable, ref::make_tensor(R, {N, C}), ref::make_ids(ids, {N}), start);
  const Vec Rd = ref::to_double(R);
  Vec g = ref::finite_diff([&](const Vec& t) { return ref::dot(ref::embedding(ids, t, V, C, start), Rd); },
                           ref::to_double(table));
  for (std::size_t i = 0; i < g.size(); ++i) g[i] += d0[i];
  EXPECT_TRUE(ref::all_close(dtable, g, 1e-6, 1e-6));
  // Row 4 (id 6) is never used: untouched.
  for (i64 c = 0; c < C; ++c) EXPECT_EQ(dtable.f32()[4 * C + c], d0[4 * C + c]);
}

TEST(Embedding, BackwardIsIdenticalForAnyThreadCount) {
  auto be = make_backend(Device::CPU);
  const i64 V = 50, C = 203, N = 4099;
  std::vector<std::int32_t> ids(static_cast<std::size_t>(N));
  for (i64 n = 0; n < N; ++n) ids[n] = static_cast<std::int32_t>((n * 7919) % 53);  // repeats, some outside V
  Tensor tids = ref::make_ids(ids, {N});
  Tensor dout = ref::make_tensor(ref::random_floats(N * C, 7), {N, C});
  Tensor d[3];
  const int threads[3] = {1, 2, 5};
  for (int r = 0; r < 3; ++r) {
    d[r] = Tensor::zeros({V, C});
    ref::with_threads(threads[r], [&] { be->embedding_backward(d[r], dout, tids, 0); });
  }
  EXPECT_TRUE(ref::bitwise_equal(d[0], d[1]));
  EXPECT_TRUE(ref::bitwise_equal(d[0], d[2]));
}

TEST(EmbeddingDeathTest, WrongIdTypeNamesTheOp) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto be = make_backend(Device::CPU);
  Tensor out = Tensor::zeros({2, 3}), table = Tensor::zeros({4, 3}), f32_ids = Tensor::zeros({2});
  EXPECT_DEATH(be->embedding_forward(out, f32_ids, table, 0, false), "embedding_forward: ids is f32");
  Tensor ids = ref::make_ids({0, 1}, {2}), bad_out = Tensor::zeros({2, 4});
  EXPECT_DEATH(be->embedding_forward(bad_out, ids, table, 0, false), "embedding_forward: out \\[2, 4\\]");
}

}  // namespace
}  // namespace pouch
