// Backend::linear_forward / linear_backward against a double reference and
// against central finite differences of L = sum(out * R).
#include <gtest/gtest.h>

#include "tests/runtime/reference_ops.h"

namespace pouch {
namespace {

using ref::i64;
using ref::Vec;

struct LinearCase {
  i64 N, I, O;
  bool bias;
};

std::ostream& operator<<(std::ostream& os, const LinearCase& c) {
  return os << "N" << c.N << "_I" << c.I << "_O" << c.O << (c.bias ? "_bias" : "_nobias");
}

class LinearTest : public ::testing::TestWithParam<LinearCase> {};

TEST_P(LinearTest, ForwardMatchesReference) {
  const LinearCase s = GetParam();
  auto be = make_backend(Device::CPU);
  const auto x = ref::random_floats(s.N * s.I, 10), w = ref::random_floats(s.O * s.I, 11);
  const auto bias = ref::random_floats(s.O, 12);
  Tensor out = ref::nan_tensor({s.N, s.O});
  be->linear_forward(out, ref::make_tensor(x, {s.N, s.I}), ref::make_tensor(w, {s.O, s.I}),
                     s.bias ? ref::make_tensor(bias, {s.O}) : Tensor());
  const Vec want =
      ref::linear(ref::to_double(x), ref::to_double(w), s.bias ? ref::to_double(bias) : Vec{}, s.N, s.I, s.O);
  EXPECT_TRUE(ref::all_close(out, want, 1e-6 * static_cast<double>(s.I + 1), 1e-5));
}

TEST_P(LinearTest, BackwardMatchesFiniteDifferences) {
  const LinearCase s = GetParam();
  auto be = make_backend(Device::CPU);
  const auto x = ref::random_floats(s.N * s.I, 20), w = ref::random_floats(s.O * s.I, 21);
  const auto bias = ref::random_floats(s.O, 22), R = ref::random_floats(s.N * s.O, 23);
  // dw and dbias accumulate: start them from known values.
  const auto dw0 = ref::random_floats(s.O * s.I, 24), db0 = ref::random_floats(s.O, 25);
  Tensor dx = ref::nan_tensor({s.N, s.I});
  Tensor dw = ref::make_tensor(dw0, {s.O, s.I}), db = ref::make_tensor(db0, {s.O});
  be->linear_backward(dx, dw, s.bias ? db : Tensor(), ref::make_tensor(R, {s.N, s.O}), ref::make_tensor(x, {s.N, s.I}),
                      ref::make_tensor(w, {s.O, s.I}));

  const Vec xd = ref::to_double(x), wd = ref::to_double(w), bd = ref::to_double(bias), Rd = ref::to_double(R);
  const Vec gx =
      ref::finite_diff([&](const Vec& v) { return ref::dot(ref::linear(v, wd, bd, s.N, s.I, s.O), Rd); }, xd);
  Vec gw = ref::finite_diff([&](const Vec& v) { return ref::dot(ref::linear(xd, v, bd, s.N, s.I, s.O), Rd); }, wd);
  Vec gb = ref::finite_diff([&](const Vec& v) { return ref::dot(ref::linear(xd, wd, v, s.N, s.I, s.O), Rd); }, bd);
  for (std::size_t i = 0; i < gw.size(); ++i) gw[i] += dw0[i];
  for (std::size_t i = 0; i < gb.size(); ++i) gb[i] += db0[i];
  const double tol_x = 2e-6 * static_cast<double>(s.O + 1), tol_w = 2e-6 * static_cast<double>(s.N + 1);
  EXPECT_TRUE(ref::all_close(dx, gx, tol_x, 1e-5)) << "dx";
  EXPECT_TRUE(ref::all_close(dw, gw, tol_w, 1e-5)) << "dw";
  if (s.bias)
    EXPECT_TRUE(ref::all_close(db, gb, tol_w, 1e-5)) << "dbias";
  else
    EXPECT_TRUE(ref::bitwise_equal(db, ref::make_tensor(db0, {s.O}))) << "undefined dbias touched db";
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearTest,
                         ::testing::Values(LinearCase{1, 1, 1, true}, LinearCase{5, 11, 7, true},
                                           LinearCase{37, 19, 23, true}, LinearCase{3, 1, 9, false},
                                           LinearCase{1, 13, 70, true}, LinearCase{9, 70, 1, false}));

TEST(Linear, ThreeDimensionalInputAndSkippedOutputs) {
  auto be = make_backend(Device::CPU);
  const i64 B = 2, T = 3, I = 5, O = 4;
  const auto x = ref::random_floats(B * T * I, 30), w = ref::random_floats(O * I, 31),
             dy = ref::random_floats(B * T * O, 32);
  Tensor out = ref::nan_tensor({B, T, O});
  be->linear_forward(out, ref::make_tensor(x, {B, T, I}), ref::make_tensor(w, {O, I}), Tensor());
  EXPECT_TRUE(ref::all_close(out, ref::linear(ref::to_double(x), ref::to_double(w), {}, B * T, I, O), 1e-5, 1e-5));

  // Only dw requested: dx and dbias undefined are skipped.
  Tensor dw = Tensor::zeros({O, I});
  be->linear_backward(Tensor(), dw, Tensor(), ref::make_tensor(dy, {B, T, O}), ref::make_tensor(x, {B, T, I}),
                      ref::make_tensor(w, {O, I}));
  const Vec want = ref::matmul(ref::to_double(dy), ref::to_double(x), {}, true, false, O, I, B * T, 1.0, 0.0);
  EXPECT_TRUE(ref::all_close(dw, want, 1e-5, 1e-5));
}

TEST(Linear, BiasGradientIsIdenticalForAnyThreadCount) {
  auto be = make_backend(Device::CPU);
  const i64 N = 3001, O = 203;
  const auto dy = ref::random_floats(N * O, 40);
  Tensor tdy = ref::make_tensor(dy, {N, O}), x = Tensor::zeros({N, 1}), w = Tensor::zeros({O, 1});
  Tensor db1 = Tensor::zeros({O}), db2 = Tensor::zeros({O}), db3 = Tensor::zeros({O});
  ref::with_threads(1, [&] { be->linear_backward(Tensor(), Tensor(), db1, tdy, x, w); });
  ref::with_threads(2, [&] { be->linear_backward(Tensor(), Tensor(), db2, tdy, x, w); });
  ref::with_threads(3, [&] { be->linear_backward(Tensor(), Tensor(), db3, tdy, x, w); });
  EXPECT_TRUE(ref::bitwise_equal(db1, db2));
  EXPECT_TRUE(ref::bitwise_equal(db1, db3));
  Vec want(static_cast<std::size_t>(O), 0.0);
  for (i64 n = 0; n < N; ++n)
    for (i64 o = 0; o < O; ++o) want[o] += dy[n * O + o];
  EXPECT_TRUE(ref::all_close(db1, want, 1e-4, 1e-5));
}

TEST(Linear, RepeatedRunsAreBitwiseIdentical) {
  auto be = make_backend(Device::CPU);
  const i64 N = 257, I = 96, O = 130;
  Tensor x = ref::make_tensor(ref::random_floats(N * I, 50), {N, I});
  Tensor w = ref::make_tensor(ref::random_floats(O * I, 51), {O, I});
  Tensor b = ref::make_tensor(ref::random_floats(O, 52), {O});
  Tensor dy = ref::make_tensor(ref::random_floats(N * O, 53), {N, O});
  Tensor out[2], dx[2], dw[2], db[2];
  for (int r = 0; r < 2; ++r) {
    out[r] = Tensor::empty({N, O});
    dx[r] = Tensor::empty({N, I});
    dw[r] = Tensor::zeros({O, I});
    db[r] = Tensor::zeros({O});
    be->linear_forward(out[r], x, w, b);
    be->linear_backward(dx[r], dw[r], db[r], dy, x, w);
  }
  EXPECT_TRUE(ref::bitwise_equal(out[0], out[1]));
  EXPECT_TRUE(ref::bitwise_equal(dx[0], dx[1]));
  EXPECT_TRUE(ref::bitwise_equal(dw[0], dw[1]));
  EXPECT_TRUE(ref::bitwise_equal(db[0], db[1]));
}

TEST(LinearDeathTest, FeatureMismatchNamesTheOp) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto be = make_backend(Device::CPU);
  Tensor x = Tensor::zeros({4, 5}), w = Tensor::zeros({3, 6}), out = Tensor::zeros({4, 3});
  EXPECT_DEATH(be->linear_forward(out, x, w, Tensor()), "linear_forward: x \\[4, 5\\] has 5 features but w \\[3, 6\\]");
  Tensor w2 = Tensor::zeros({3, 5}), bias = Tensor::zeros({4});
  EXPECT_DEATH(be->linear_forward(out, x, w2, bias), "linear_forward: bias \\[4\\]");
}

}  // namespace
}  // namespace pouch
