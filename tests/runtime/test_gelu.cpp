// Backend::gelu_forward / gelu_backward (tanh form) against the double
// formula and central finite differences; aliasing and special values.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/runtime/reference_ops.h"

namespace pouch {
namespace {

using ref::i64;
using ref::Vec;

class GeluTest : public ::testing::TestWithParam<i64> {};

TEST_P(GeluTest, ForwardMatchesReference) {
  const i64 n = GetParam();
  auto be = make_backend(Device::CPU);
  const auto x = ref::random_floats(n, 1, -7.0f, 7.0f);
  Tensor out = ref::nan_tensor({n});
  be->gelu_forward(out, ref::make_tensor(x, {n}));
  Vec want(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) want[i] = ref::gelu(x[i]);
  EXPECT_TRUE(ref::all_close(out, want, 1e-7, 2e-6));
}

TEST_P(GeluTest, BackwardMatchesFiniteDifferences) {
  const i64 n = GetParam();
  auto be = make_backend(Device::CPU);
  const auto x = ref::random_floats(n, 2, -5.0f, 5.0f), dy = ref::random_floats(n, 3);
  Tensor dx = ref::nan_tensor({n});
  be->gelu_backward(dx, ref::make_tensor(dy, {n}), ref::make_tensor(x, {n}));
  // L = sum_i gelu(x_i) dy_i is separable, so one perturbation per element is
  // the whole derivative: dL/dx_i = dy_i (gelu(x_i + h) - gelu(x_i - h)) / 2h.
  Vec want(x.size());
  const double h = 1e-5;
  for (std::size_t i = 0; i < x.size(); ++i)
    want[i] = dy[i] * (ref::gelu(double{x[i]} + h) - ref::gelu(double{x[i]} - h)) / (2.0 * h);
  EXPECT_TRUE(ref::all_close(dx, want, 1e-6, 1e-5));
}

// Tails of 1..7 elements after the 8-wide body, and more than one parallel tile.
INSTANTIATE_TEST_SUITE_P(Sizes, GeluTest, ::testing::Values(1, 7, 8, 13, 1001, 70001));

TEST(Gelu, FiniteDifferencesThroughTheGenericChecker) {
  // The same check as above, written the general way (perturb every input,
  // re-evaluate the whole loss) so a cross-element bug would show.
  auto be = make_backend(Device::CPU);
  const i64 n = 11;
  const auto x = ref::random_floats(n, 4, -3.0f, 3.0f), R = ref::random_floats(n, 5);
  Tensor dx = Tensor::empty({n});
  be->gelu_backward(dx, ref::make_tensor(R, {n}), ref::make_tensor(x, {n}));
  const Vec Rd = ref::to_double(R);
  const Vec g = ref::finite_diff(
      [&](const Vec& v) {
        Vec out(v.size());
        for (std::size_t i = 0; i < v.size(); ++i) out[i] = ref::gelu(v[i]);
        return ref::dot(out, Rd);
      },
      ref::to_double(x));
  EXPECT_TRUE(ref::all_close(dx, g, 1e-6, 1e-5));
}

TEST(Gelu, SpecialValuesAndAliasing) {
  auto be = make_backend(Device::CPU);
  const std::vector<float> x = {0.0f, -0.0f, 1e-20f, -1e-20f, 30.0f, -30.0f, 100.0f, -100.0f, 1e30f, -1e30f, 3.0f};
  const i64 n = static_cast<i64>(x.size());
  Tensor t = ref::make_tensor(x, {n});
  be->gelu_forward(t, t);  // in place
  const float* y = t.f32();
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[4], 30.0f);
  EXPECT_EQ(y[6], 100.0f);
  EXPECT_EQ(y[8], 1e30f);
  for (int i : {5, 7, 9}) EXPECT_LE(std::abs(y[i]), 1e-30f) << i;
  EXPECT_NEAR(y[2], 0.5e-20f, 1e-26f);
  EXPECT_NEAR(y[10], ref::gelu(3.0), 1e-6);
  for (i64 i = 0; i < n; ++i) EXPECT_FALSE(std::isnan(y[i])) << i;

  // Backward without the +-1e30 entries: there x^2 overflows, and
  // gelu'(x) = 0 * inf is undefined in any implementation.
  const std::vector<float> xb = {0.0f, -0.0f, 1e-20f, -1e-20f, 30.0f, -30.0f, 100.0f, -100.0f, 3.0f};
  const i64 nb = static_cast<i64>(xb.size());
  Tensor d = Tensor::empty({nb});
  d.fill_(2.0f);
  be->gelu_backward(d, d, ref::make_tensor(xb, {nb}));  // dx aliases dy
  EXPECT_FLOAT_EQ(d.f32()[0], 1.0f);                    // gelu'(0) = 0.5
  EXPECT_FLOAT_EQ(d.f32()[4], 2.0f);
  EXPECT_FLOAT_EQ(d.f32()[6], 2.0f);
  EXPECT_EQ(d.f32()[5], 0.0f);
  EXPECT_EQ(d.f32()[7], 0.0f);
  for (i64 i = 0; i < nb; ++i) EXPECT_FALSE(std::isnan(d.f32()[i])) << i;
}

TEST(Gelu, NanPropagates) {
  auto be = make_backend(Device::CPU);
  std::vector<float> x(16, 1.0f);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  x[12] = std::numeric_limits<float>::quiet_NaN();
  Tensor out = Tensor::empty({16});
  be->gelu_forward(out, ref::make_tensor(x, {16}));
  EXPECT_TRUE(std::isnan(out.f32()[3]));
  EXPECT_TRUE(std::isnan(out.f32()[12]));
  EXPECT_FALSE(std::isnan(out.f32()[4]));
}

TEST(Elementwise, AddAndScale) {
  auto be = make_backend(Device::CPU);
  for (i64 n : {1, 9, 300007}) {
    const auto a = ref::random_floats(n, 6), b = ref::random_floats(n, 7);
    Tensor ta = ref::make_tensor(a, {n}), tb = ref::make_tensor(b, {n}), out = ref::nan_tensor({n});
    be->add(out, ta, tb);
    bool exact = true;
    for (i64 i = 0; i < n; ++i) exact = exact && out.f32()[i] == a[i] + b[i];
    EXPECT_TRUE(exact) << "add n=" << n;
    be->add(ta, ta, tb);  // out aliases a
    EXPECT_TRUE(ref::bitwise_equal(ta, out)) << "aliased add n=" << n;
    be->scale(out, -0.375f);
    exact = true;
    for (i64 i = 0; i < n; ++i) exact = exact && out.f32()[i] == (a[i] + b[i]) * -0.375f;
    EXPECT_TRUE(exact) << "scale n=" << n;
  }
}

TEST(ElementwiseDeathTest, SizeMismatchNamesTheOp) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto be = make_backend(Device::CPU);
  Tensor a = Tensor::zeros({4}), b = Tensor::zeros({5});
  EXPECT_DEATH(be->add(a, a, b), "add: b \\[5\\]");
  EXPECT_DEATH(be->gelu_forward(a, b), "gelu_forward: out \\[4\\]");
}

}  // namespace
}  // namespace pouch
