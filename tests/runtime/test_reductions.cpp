// Backend::sum_squares (double accumulation) and its thread-count
// determinism; sum_squares_segments against the per-tensor loop it replaces.
#include <gtest/gtest.h>

#include <iterator>
#include <limits>
#include <vector>

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

TEST(SumSquaresSegments, BitwiseTheSumOfPerSegmentSumSquaresInListOrder) {
  auto be = make_backend(Device::CPU);
  // Odd sizes, one above the chunk size and one above the parallel threshold,
  // gaps between segments (alignment padding), slots interleaved.
  const i64 sizes[] = {1, 7, 63, 1000, 1023, 16385, 300007, 5};
  const int slots[] = {0, 1, 0, 0, 1, 1, 0, 1};
  std::vector<SquareSumSegment> segments;
  i64 offset = 3;
  for (std::size_t k = 0; k < std::size(sizes); ++k) {
    segments.push_back({offset, sizes[k], slots[k]});
    offset += sizes[k] + 9;
  }
  // Values of very different magnitudes, so that a different summation
  // order would show in the low bits.
  auto x = ref::random_floats(offset, 17, -3.0f, 3.0f);
  for (std::size_t i = 0; i < x.size(); i += 97) x[i] *= 1e4f;
  const Tensor flat = ref::make_tensor(x, {offset});
  double want[3] = {0.0, 0.0, 0.0};
  for (const auto& s : segments) want[s.slot] += be->sum_squares(flat.view(s.offset, {s.numel}));
  Tensor out = Tensor::empty({3}, DType::F64);
  for (int i = 0; i < 3; ++i) out.data<double>()[i] = std::numeric_limits<double>::quiet_NaN();
  be->sum_squares_segments(flat, segments, out);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(out.data<double>()[i], want[i]) << "slot " << i;
  EXPECT_EQ(out.data<double>()[2], 0.0);  // no segment: 0, not the NaN it held
  EXPECT_GT(want[0], 0.0);
  EXPECT_GT(want[1], 0.0);
}

TEST(SumSquaresSegments, OutIsOverwrittenNotAccumulated) {
  auto be = make_backend(Device::CPU);
  const Tensor flat = ref::make_tensor({1.0f, 2.0f, 3.0f}, {3});
  Tensor out = Tensor::empty({1}, DType::F64);
  out.data<double>()[0] = 100.0;
  be->sum_squares_segments(flat, {{0, 3, 0}}, out);
  EXPECT_EQ(out.data<double>()[0], 14.0);
}

}  // namespace
}  // namespace pouch
