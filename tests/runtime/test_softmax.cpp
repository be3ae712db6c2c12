// Backend::softmax_forward against a double reference, with temperature,
// large logits, in-place use and determinism.
#include <gtest/gtest.h>

#include <tuple>

#include "tests/runtime/reference_ops.h"

namespace pouch {
namespace {

using ref::i64;
using ref::Vec;

class SoftmaxTest : public ::testing::TestWithParam<std::tuple<std::pair<i64, i64>, float>> {};

TEST_P(SoftmaxTest, MatchesReference) {
  const auto [shape, temperature] = GetParam();
  const auto [N, V] = shape;
  auto be = make_backend(Device::CPU);
  const auto x = ref::random_floats(N * V, 1, -6.0f, 6.0f);
  Tensor out = ref::nan_tensor({N, V});
  be->softmax_forward(out, ref::make_tensor(x, {N, V}), temperature);
  const Vec want = ref::softmax(ref::to_double(x), N, V, temperature);
  EXPECT_TRUE(ref::all_close(out, want, 1e-8, 5e-6));
  for (i64 n = 0; n < N; ++n) {
    double s = 0.0;
    for (i64 v = 0; v < V; ++v) s += out.f32()[n * V + v];
    EXPECT_NEAR(s, 1.0, 1e-5) << "row " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, SoftmaxTest,
                         ::testing::Combine(::testing::Values(std::pair<i64, i64>{1, 1}, std::pair<i64, i64>{3, 7},
                                                              std::pair<i64, i64>{5, 33},
                                                              std::pair<i64, i64>{17, 2049}),
                                            ::testing::Values(1.0f, 0.7f, 2.5f)));

TEST(Softmax, LargeLogitsInPlace) {
  auto be = make_backend(Device::CPU);
  const i64 N = 3, V = 19;
  auto x = ref::random_floats(N * V, 2, -30.0f, 30.0f);
  for (i64 v = 0; v < V; ++v) x[v] += 1e4f;      // row 0 shifted far up
  for (i64 v = 0; v < V; ++v) x[V + v] -= 1e4f;  // row 1 far down
  x[2 * V + 5] = 500.0f;                         // row 2: one dominant logit
  Tensor t = ref::make_tensor(x, {N, V});
  be->softmax_forward(t, t, 1.0f);
  const Vec want = ref::softmax(ref::to_double(x), N, V, 1.0);
  EXPECT_TRUE(ref::all_close(t, want, 1e-7, 1e-4));
  EXPECT_EQ(t.f32()[2 * V + 5], 1.0f);
}

TEST(Softmax, RepeatedRunsAreBitwiseIdentical) {
  auto be = make_backend(Device::CPU);
  const i64 N = 129, V = 1003;
  Tensor x = ref::make_tensor(ref::random_floats(N * V, 3, -5.0f, 5.0f), {N, V});
  Tensor a = Tensor::empty({N, V}), b = Tensor::empty({N, V});
  ref::with_threads(1, [&] { be->softmax_forward(a, x, 0.9f); });
  be->softmax_forward(b, x, 0.9f);
  EXPECT_TRUE(ref::bitwise_equal(a, b));
}

TEST(SoftmaxDeathTest, NonPositiveTemperatureIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto be = make_backend(Device::CPU);
  Tensor x = Tensor::zeros({2, 3});
  EXPECT_DEATH(be->softmax_forward(x, x, 0.0f), "softmax_forward: temperature 0 must be > 0");
}

}  // namespace
}  // namespace pouch
