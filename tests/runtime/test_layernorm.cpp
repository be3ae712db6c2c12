// Backend::layernorm_forward / layernorm_backward against a double reference,
// central finite differences, and for determinism across thread counts.
#include <gtest/gtest.h>

#include "tests/runtime/reference_ops.h"

namespace pouch {
namespace {

using ref::i64;
using ref::Vec;

constexpr float kEps = 1e-5f;

struct LnCase {
  i64 N, C;
};

std::ostream& operator<<(std::ostream& os, const LnCase& c) { return os << "N" << c.N << "_C" << c.C; }

class LayerNormTest : public ::testing::TestWithParam<LnCase> {};

TEST_P(LayerNormTest, ForwardMatchesReference) {
  const LnCase s = GetParam();
  auto be = make_backend(Device::CPU);
  // An offset mean and a spread that is not 1 exercise both statistics.
  const auto x = ref::random_floats(s.N * s.C, 1, -2.0f, 3.0f), w = ref::random_floats(s.C, 2);
  const auto b = ref::random_floats(s.C, 3);
  Tensor out = ref::nan_tensor({s.N, s.C}), mean = ref::nan_tensor({s.N}), rstd = ref::nan_tensor({s.N});
  be->layernorm_forward(out, mean, rstd, ref::make_tensor(x, {s.N, s.C}), ref::make_tensor(w, {s.C}),
                        ref::make_tensor(b, {s.C}), kEps);
  const auto want = ref::layernorm(ref::to_double(x), ref::to_double(w), ref::to_double(b), s.N, s.C, kEps);
  EXPECT_TRUE(ref::all_close(out, want.out, 1e-5, 1e-5));
  EXPECT_TRUE(ref::all_close(mean, want.mean, 1e-6, 1e-5));
  // For C = 1 the variance is 0 and rstd = 1/sqrt(eps) ~ 316: relative check.
  EXPECT_TRUE(ref::all_close(rstd, want.rstd, 1e-6, 2e-5));
}

TEST_P(LayerNormTest, BackwardMatchesFiniteDifferences) {
  const LnCase s = GetParam();
  auto be = make_backend(Device::CPU);
  const auto x = ref::random_floats(s.N * s.C, 4, -2.0f, 3.0f), w = ref::random_floats(s.C, 5, 0.5f, 1.5f);
  const auto b = ref::random_floats(s.C, 6), R = ref::random_floats(s.N * s.C, 7);
  // All three gradients accumulate ("+="): start them from known values.
  const auto dx0 = ref::random_floats(s.N * s.C, 8), dw0 = ref::random_floats(s.C, 9),
             db0 = ref::random_floats(s.C, 10);
  Tensor tx = ref::make_tensor(x, {s.N, s.C}), tw = ref::make_tensor(w, {s.C}), tb = ref::make_tensor(b, {s.C});
  Tensor out = Tensor::empty({s.N, s.C}), mean = Tensor::empty({s.N}), rstd = Tensor::empty({s.N});
  be->layernorm_forward(out, mean, rstd, tx, tw, tb, kEps);
  Tensor dx = ref::make_tensor(dx0, {s.N, s.C}), dw = ref::make_tensor(dw0, {s.C}), db = ref::make_tensor(db0, {s.C});
  be->layernorm_backward(dx, dw, db, ref::make_tensor(R, {s.N, s.C}), tx, tw, mean, rstd);

  const Vec xd = ref::to_double(x), wd = ref::to_double(w), bd = ref::to_double(b), Rd = ref::to_double(R);
  auto loss = [&](const Vec& xv, const Vec& wv, const Vec& bv) {
    return ref::dot(ref::layernorm(xv, wv, bv, s.N, s.C, kEps).out, Rd);
  };
  // x is scaled by rstd (up to ~316 when C = 1), so a smaller step keeps the
  // central difference's truncation error down.
  Vec gx = ref::finite_diff([&](const Vec& v) { return loss(v, wd, bd); }, xd, 1e-6);
  Vec gw = ref::finite_diff([&](const Vec& v) { return loss(xd, v, bd); }, wd);
  Vec gb = ref::finite_diff([&](const Vec& v) { return loss(xd, wd, v); }, bd);
  for (std::size_t i = 0; i < gx.size(); ++i) gx[i] += dx0[i];
  for (std::size_t i = 0; i < gw.size(); ++i) gw[i] += dw0[i];
  for (std::size_t i = 0; i < gb.size(); ++i) gb[i] += db0[i];
  EXPECT_TRUE(ref::all_close(dx, gx, 2e-5, 1e-4)) << "dx";
  EXPECT_TRUE(ref::all_close(dw, gw, 1e-5 * static_cast<double>(s.N), 1e-5)) << "dw";
  EXPECT_TRUE(ref::all_close(db, gb, 1e-5 * static_cast<double>(s.N), 1e-5)) << "db";
}

INSTANTIATE_TEST_SUITE_P(Shapes, LayerNormTest,
                         ::testing::Values(LnCase{1, 1}, LnCase{1, 13}, LnCase{5, 1}, LnCase{7, 13}, LnCase{3, 67},
                                           LnCase{41, 9}));

TEST(LayerNorm, LargeShapeForwardAndOptionalOutputs) {
  auto be = make_backend(Device::CPU);
  const i64 N = 301, C = 259;
  const auto x = ref::random_floats(N * C, 11, -4.0f, 2.0f), w = ref::random_floats(C, 12),
             b = ref::random_floats(C, 13);
  Tensor out = ref::nan_tensor({N, C});
  be->layernorm_forward(out, Tensor(), Tensor(), ref::make_tensor(x, {N, C}), ref::make_tensor(w, {C}),
                        ref::make_tensor(b, {C}), kEps);
  EXPECT_TRUE(ref::all_close(
      out, ref::layernorm(ref::to_double(x), ref::to_double(w), ref::to_double(b), N, C, kEps).out, 1e-5, 1e-5));
}

TEST(LayerNorm, BackwardIsIdenticalForAnyThreadCountAndRun) {
  auto be = make_backend(Device::CPU);
  const i64 N = 1037, C = 77;
  Tensor x = ref::make_tensor(ref::random_floats(N * C, 14), {N, C});
  Tensor w = ref::make_tensor(ref::random_floats(C, 15), {C}), b = ref::make_tensor(ref::random_floats(C, 16), {C});
  Tensor dy = ref::make_tensor(ref::random_floats(N * C, 17), {N, C});
  Tensor out = Tensor::empty({N, C}), mean = Tensor::empty({N}), rstd = Tensor::empty({N});
  be->layernorm_forward(out, mean, rstd, x, w, b, kEps);
  Tensor dx[4], dw[4], db[4];
  const int threads[4] = {1, 2, 3, 2};
  for (int r = 0; r < 4; ++r) {
    dx[r] = Tensor::zeros({N, C});
    dw[r] = Tensor::zeros({C});
    db[r] = Tensor::zeros({C});
    ref::with_threads(threads[r], [&] { be->layernorm_backward(dx[r], dw[r], db[r], dy, x, w, mean, rstd); });
  }
  for (int r = 1; r < 4; ++r) {
    EXPECT_TRUE(ref::bitwise_equal(dx[0], dx[r])) << "run " << r;
    EXPECT_TRUE(ref::bitwise_equal(dw[0], dw[r])) << "run " << r;
    EXPECT_TRUE(ref::bitwise_equal(db[0], db[r])) << "run " << r;
  }
}

TEST(LayerNorm, BackwardWithOnlyParameterGradients) {
  auto be = make_backend(Device::CPU);
  const i64 N = 6, C = 10;
  Tensor x = ref::make_tensor(ref::random_floats(N * C, 18), {N, C});
  Tensor w = ref::make_tensor(ref::random_floats(C, 19), {C}), b = Tensor::zeros({C});
  Tensor dy = ref::make_tensor(ref::random_floats(N * C, 20), {N, C});
  Tensor out = Tensor::empty({N, C}), mean = Tensor::empty({N}), rstd = Tensor::empty({N});
  be->layernorm_forward(out, mean, rstd, x, w, b, kEps);
  Tensor db = Tensor::zeros({C});
  be->layernorm_backward(Tensor(), Tensor(), db, dy, x, w, mean, rstd);
  Vec want(static_cast<std::size_t>(C), 0.0);
  for (i64 n = 0; n < N; ++n)
    for (i64 c = 0; c < C; ++c) want[c] += dy.f32()[n * C + c];
  EXPECT_TRUE(ref::all_close(db, want, 1e-6, 1e-6));
}

TEST(LayerNormDeathTest, WrongWeightSizeNamesTheOp) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto be = make_backend(Device::CPU);
  Tensor x = Tensor::zeros({4, 5}), out = Tensor::zeros({4, 5}), w = Tensor::zeros({4}), b = Tensor::zeros({5});
  EXPECT_DEATH(be->layernorm_forward(out, Tensor(), Tensor(), x, w, b, kEps), "layernorm_forward: w \\[4\\]");
}

}  // namespace
}  // namespace pouch
