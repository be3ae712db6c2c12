// Backend::matmul (cblas_sgemm) against a double reference, every transpose
// combination, odd shapes, alpha/beta, and the shape checks.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "tests/runtime/reference_ops.h"

namespace pouch {
namespace {

using ref::i64;

struct MatmulCase {
  i64 M, N, K;
};

std::ostream& operator<<(std::ostream& os, const MatmulCase& c) {
  return os << "M" << c.M << "_N" << c.N << "_K" << c.K;
}

class MatmulTest : public ::testing::TestWithParam<std::tuple<MatmulCase, bool, bool, float>> {};

TEST_P(MatmulTest, MatchesReference) {
  const auto [s, ta, tb, beta] = GetParam();
  auto be = make_backend(Device::CPU);
  const auto a = ref::random_floats(s.M * s.K, 1), b = ref::random_floats(s.K * s.N, 2);
  const auto c0 = ref::random_floats(s.M * s.N, 3);
  Tensor ta_ = ref::make_tensor(a, ta ? Shape{s.K, s.M} : Shape{s.M, s.K});
  Tensor tb_ = ref::make_tensor(b, tb ? Shape{s.N, s.K} : Shape{s.K, s.N});
  // With beta == 0 the output must not be read: start it as NaN.
  Tensor out = beta == 0.0f ? ref::nan_tensor({s.M, s.N}) : ref::make_tensor(c0, {s.M, s.N});
  const float alpha = 0.75f;
  be->matmul(out, ta_, tb_, ta, tb, alpha, beta);
  const ref::Vec want =
      ref::matmul(ref::to_double(a), ref::to_double(b), ref::to_double(c0), ta, tb, s.M, s.N, s.K, alpha, beta);
  EXPECT_TRUE(ref::all_close(out, want, 1e-6 * static_cast<double>(s.K + 1), 1e-5));
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatmulTest,
                         ::testing::Combine(::testing::Values(MatmulCase{1, 1, 1}, MatmulCase{7, 5, 3},
                                                              MatmulCase{13, 17, 11}, MatmulCase{1, 9, 1},
                                                              MatmulCase{33, 1, 65}, MatmulCase{70, 45, 129}),
                                            ::testing::Bool(), ::testing::Bool(), ::testing::Values(0.0f, 1.25f)));

TEST(Matmul, FlattensLeadingDimensionsIntoRows) {
  auto be = make_backend(Device::CPU);
  const auto a = ref::random_floats(2 * 3 * 5, 4), b = ref::random_floats(5 * 4, 5);
  Tensor out = ref::nan_tensor({2, 3, 4});
  be->matmul(out, ref::make_tensor(a, {2, 3, 5}), ref::make_tensor(b, {5, 4}), false, false);
  const ref::Vec want = ref::matmul(ref::to_double(a), ref::to_double(b), {}, false, false, 6, 4, 5, 1.0, 0.0);
  EXPECT_TRUE(ref::all_close(out, want, 1e-6, 1e-5));
}

TEST(MatmulDeathTest, ShapeMismatchNamesTheOp) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto be = make_backend(Device::CPU);
  Tensor a = Tensor::zeros({3, 4}), b = Tensor::zeros({5, 2}), out = Tensor::zeros({3, 2});
  EXPECT_DEATH(be->matmul(out, a, b, false, false), "matmul: out \\[3, 2\\] = op\\(a \\[3, 4\\]\\)");
  Tensor ids = Tensor::zeros({3, 4}, DType::I32);
  EXPECT_DEATH(be->matmul(out, ids, b, false, false), "matmul: a is i32");
}

}  // namespace
}  // namespace pouch
