// Backend::cross_entropy_forward_backward: losses against a double
// reference, dlogits against central finite differences of sum(loss * r),
// ignored targets, aliasing, stability and determinism.
#include <gtest/gtest.h>

#include "tests/runtime/reference_ops.h"

namespace pouch {
namespace {

using ref::i64;
using ref::Vec;

std::vector<std::int32_t> random_targets(i64 N, i64 V, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<std::int32_t> dist(0, static_cast<std::int32_t>(V - 1));
  std::vector<std::int32_t> t(static_cast<std::size_t>(N));
  for (auto& x : t) x = dist(gen);
  return t;
}

struct CeCase {
  i64 N, V;
};

std::ostream& operator<<(std::ostream& os, const CeCase& c) { return os << "N" << c.N << "_V" << c.V; }

class CrossEntropyTest : public ::testing::TestWithParam<CeCase> {};

TEST_P(CrossEntropyTest, LossesAndGradientMatchReferenceAndFiniteDifferences) {
  const CeCase s = GetParam();
  auto be = make_backend(Device::CPU);
  const auto logits = ref::random_floats(s.N * s.V, 1, -4.0f, 4.0f);
  auto targets = random_targets(s.N, s.V, 2);
  if (s.N > 2) targets[1] = -1;  // ignored rows in the middle and at the end
  if (s.N > 3) targets[s.N - 1] = -100;
  const float grad_scale = 0.37f;
  Tensor losses = ref::nan_tensor({s.N}), dlogits = ref::nan_tensor({s.N, s.V});
  be->cross_entropy_forward_backward(losses, dlogits, ref::make_tensor(logits, {s.N, s.V}),
                                     ref::make_ids(targets, {s.N}), grad_scale);

  const Vec ld = ref::to_double(logits);
  EXPECT_TRUE(ref::all_close(losses, ref::cross_entropy_losses(ld, targets, s.N, s.V), 2e-6, 2e-6));
  // dlogits = grad_scale * d(sum_n loss_n)/dlogits.
  Vec g = ref::finite_diff(
      [&](const Vec& v) {
        const Vec l = ref::cross_entropy_losses(v, targets, s.N, s.V);
        double sum = 0.0;
        for (double x : l) sum += x;
        return sum;
      },
      ld);
  for (auto& x : g) x *= grad_scale;
  EXPECT_TRUE(ref::all_close(dlogits, g, 1e-7, 1e-5));
  for (i64 n = 0; n < s.N; ++n) {
    if (targets[n] >= 0) continue;
    EXPECT_EQ(losses.f32()[n], 0.0f) << "ignored row " << n;
    for (i64 v = 0; v < s.V; ++v) ASSERT_EQ(dlogits.f32()[n * s.V + v], 0.0f) << "ignored row " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, CrossEntropyTest,
                         ::testing::Values(CeCase{1, 1}, CeCase{1, 2}, CeCase{5, 13}, CeCase{4, 8}, CeCase{7, 37},
                                           CeCase{6, 211}));

TEST(CrossEntropy, GradientInPlaceEqualsSeparateBuffer) {
  auto be = make_backend(Device::CPU);
  const i64 N = 67, V = 2053;
  const auto logits = ref::random_floats(N * V, 3, -8.0f, 8.0f);
  const auto targets = random_targets(N, V, 4);
  Tensor ids = ref::make_ids(targets, {N});
  Tensor l1 = Tensor::empty({N}), d1 = Tensor::empty({N, V}), l2 = Tensor::empty({N});
  Tensor in_place = ref::make_tensor(logits, {N, V});
  be->cross_entropy_forward_backward(l1, d1, ref::make_tensor(logits, {N, V}), ids, 1.0f / N);
  be->cross_entropy_forward_backward(l2, in_place, in_place, ids, 1.0f / N);
  EXPECT_TRUE(ref::bitwise_equal(l1, l2));
  EXPECT_TRUE(ref::bitwise_equal(d1, in_place));
  EXPECT_TRUE(ref::all_close(l1, ref::cross_entropy_losses(ref::to_double(logits), targets, N, V), 5e-6, 2e-6));
  // Losses only (dlogits undefined) agree as well.
  Tensor l3 = Tensor::empty({N});
  be->cross_entropy_forward_backward(l3, Tensor(), ref::make_tensor(logits, {N, V}), ids, 1.0f);
  EXPECT_TRUE(ref::bitwise_equal(l1, l3));
}

TEST(CrossEntropy, LargeLogitsAreStable) {
  auto be = make_backend(Device::CPU);
  const i64 N = 3, V = 11;
  auto logits = ref::random_floats(N * V, 5, -1.0f, 1.0f);
  for (i64 v = 0; v < V; ++v) logits[v] += 1e4f;
  for (i64 v = 0; v < V; ++v) logits[V + v] -= 1e4f;
  logits[2 * V + 3] = 200.0f;  // confident and right: loss ~ 0
  const std::vector<std::int32_t> targets = {4, 9, 3};
  Tensor losses = Tensor::empty({N}), d = Tensor::empty({N, V});
  be->cross_entropy_forward_backward(losses, d, ref::make_tensor(logits, {N, V}), ref::make_ids(targets, {N}), 1.0f);
  EXPECT_TRUE(ref::all_close(losses, ref::cross_entropy_losses(ref::to_double(logits), targets, N, V), 1e-5, 1e-5));
  EXPECT_EQ(losses.f32()[2], 0.0f);
  for (i64 i = 0; i < N * V; ++i) ASSERT_TRUE(std::isfinite(d.f32()[i])) << i;
}

TEST(CrossEntropy, NanLogitGivesNanLoss) {
  // A diverged model must not report a finite loss: NaN in any logit of a row
  // (vector body or scalar tail) makes that row's loss NaN.
  auto be = make_backend(Device::CPU);
  for (i64 V : {5, 21}) {
    auto logits = ref::random_floats(2 * V, 8);
    logits[V - 2] = std::numeric_limits<float>::quiet_NaN();  // row 0, not the target
    Tensor losses = Tensor::empty({2});
    be->cross_entropy_forward_backward(losses, Tensor(), ref::make_tensor(logits, {2, V}), ref::make_ids({0, 1}, {2}),
                                       1.0f);
    EXPECT_TRUE(std::isnan(losses.f32()[0])) << "V=" << V;
    EXPECT_TRUE(std::isfinite(losses.f32()[1])) << "V=" << V;
  }
}

TEST(CrossEntropy, IdenticalForAnyThreadCount) {
  auto be = make_backend(Device::CPU);
  const i64 N = 97, V = 515;
  Tensor logits = ref::make_tensor(ref::random_floats(N * V, 6, -3.0f, 3.0f), {N, V});
  Tensor ids = ref::make_ids(random_targets(N, V, 7), {N});
  Tensor l1 = Tensor::empty({N}), d1 = Tensor::empty({N, V}), l2 = Tensor::empty({N}), d2 = Tensor::empty({N, V});
  ref::with_threads(1, [&] { be->cross_entropy_forward_backward(l1, d1, logits, ids, 0.5f); });
  ref::with_threads(3, [&] { be->cross_entropy_forward_backward(l2, d2, logits, ids, 0.5f); });
  EXPECT_TRUE(ref::bitwise_equal(l1, l2));
  EXPECT_TRUE(ref::bitwise_equal(d1, d2));
}

TEST(CrossEntropyDeathTest, TargetOutsideVocabularyIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto be = make_backend(Device::CPU);
  Tensor logits = Tensor::zeros({2, 5}), losses = Tensor::empty({2});
  Tensor ids = ref::make_ids({1, 5}, {2});
  EXPECT_DEATH(be->cross_entropy_forward_backward(losses, Tensor(), logits, ids, 1.0f),
               "target 5 at row 1 is outside the vocabulary of 5");
  Tensor f32_targets = Tensor::zeros({2});
  EXPECT_DEATH(be->cross_entropy_forward_backward(losses, Tensor(), logits, f32_targets, 1.0f),
               "cross_entropy_forward_backward: targets is f32");
}

}  // namespace
}  // namespace pouch
