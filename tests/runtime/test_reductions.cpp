// Backend::sum_squares (double accumulation) and its thread-count determinism.
#include <gtest/gtest.h>

#include "tests/runtime/reference_ops.h"

namespace pouch {
namespace {

using ref::i64;

TEST(SumSquares, MatchesDoubleSum) {
  auto be = make_backend(Device::CPU);
  for (i64 n : {0, 1, 7, 8, 9, 16385, 300007}) {
    const auto x = ref::random_floats(n, static_cast<std::uint32_t>(n + 1), -3.0f, 3.0f);
    double want = 0.0;
    for (float f : x) want += double{f} * double{f};
    const double got = be->sum_squares(ref::make_tensor(x, {n}));
    EXPECT_NEAR(got, want, 1e-12 * (want + 1.0)) << "n=" << n;
  }
}

TEST(SumSquares, SmallValuesAreNotLostInFloat) {
  // 1e6 squares of 1e-8 next to one of 1e6: in a float total (ulp 0.0625 at
  // 1e6) their 0.01 would vanish.
  auto be = make_backend(Device::CPU);
  const i64 n = 1000001;
  Tensor x = Tensor::empty({n});
  x.fill_(1e-4f);
  x.f32()[0] = 1e3f;
  const double small = double{1e-4f} * double{1e-4f};
  EXPECT_NEAR(be->sum_squares(x), 1e6 + small * (n - 1), 1e-6);
}

TEST(SumSquares, IdenticalForAnyThreadCount) {
  auto be = make_backend(Device::CPU);
  const i64 n = 500009;
  Tensor x = ref::make_tensor(ref::random_floats(n, 9), {n});
  double r[3];
  const int threads[3] = {1, 2, 3};
  for (int i = 0; i < 3; ++i) ref::with_threads(threads[i], [&] { r[i] = be->sum_squares(x); });
  EXPECT_EQ(r[0], r[1]);
  EXPECT_EQ(r[0], r[2]);
}

}  // namespace
}  // namespace pouch
