// runtime/rng.h: Philox4x32-10 against Random123's known-answer vectors
// (kat_vectors: counter words, key words, expected words), and RngStream.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "runtime/rng.h"

namespace pouch {
namespace {

std::uint64_t key_of(std::uint32_t k0, std::uint32_t k1) { return (std::uint64_t{k1} << 32) | k0; }

TEST(Philox, Random123KnownAnswers) {
  using W = std::array<std::uint32_t, 4>;
  EXPECT_EQ(philox4x32(key_of(0, 0), W{0, 0, 0, 0}), (W{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(philox4x32(key_of(0xffffffffu, 0xffffffffu), W{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}),
            (W{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(philox4x32(key_of(0xa4093822u, 0x299f31d0u), W{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}),
            (W{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(RngStream, WordsAreConsecutivePhiloxBlocks) {
  const std::uint64_t seed = 0x0123456789abcdefull, stream = 0xfedcba9876543210ull;
  RngStream r(seed, stream);
  for (std::uint32_t block = 0; block < 3; ++block) {
    const auto want =
        philox4x32(seed, {block, 0, static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)});
    for (int i = 0; i < 4; ++i) EXPECT_EQ(r.next_u32(), want[i]) << "block " << block << " word " << i;
  }
  EXPECT_EQ(r.state().offset, 12u);
}

TEST(RngStream, ResumesFromItsState) {
  RngStream a(42, 7);
  for (int i = 0; i < 5; ++i) a.next_u32();  // mid-block
  RngStream b(a.state());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(a.next_u32(), b.next_u32()) << i;
}

TEST(RngStream, StreamsAndSeedsDiffer) {
  RngStream a(1, 0), b(1, 1), c(2, 0);
  const std::uint64_t x = a.next_u64(), y = b.next_u64(), z = c.next_u64();
  EXPECT_NE(x, y);
  EXPECT_NE(x, z);
  EXPECT_NE(stream_id("wte"), stream_id("wpe"));
  EXPECT_EQ(stream_id("wte"), stream_id("wte"));
}

TEST(RngStream, DistributionsLookRight) {
  RngStream r(123, 4);
  const int n = 200000;
  double sum = 0.0, sum_sq = 0.0, usum = 0.0;
  float umin = 1.0f, umax = 0.0f;
  std::set<std::uint64_t> seen;
  for (int i = 0; i < n; ++i) {
    const float u = r.uniform();
    umin = std::min(umin, u);
    umax = std::max(umax, u);
    usum += u;
    const double z = r.normal();
    sum += z;
    sum_sq += z * z;
    const std::uint64_t k = r.below(7);
    ASSERT_LT(k, 7u);
    seen.insert(k);
  }
  EXPECT_GE(umin, 0.0f);
  EXPECT_LT(umax, 1.0f);
  EXPECT_NEAR(usum / n, 0.5, 0.005);
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sum_sq / n, 1.0, 0.02);
  EXPECT_EQ(seen.size(), 7u);
}

}  // namespace
}  // namespace pouch
