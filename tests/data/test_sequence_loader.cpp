#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "data/sequence_loader.h"
#include "data/token_shard.h"
#include "runtime/error.h"
#include "scratch_dir.h"

namespace pouch {
namespace {

std::vector<std::int32_t> iota_tokens(std::int32_t n, std::int32_t start = 0) {
  std::vector<std::int32_t> t(static_cast<std::size_t>(n));
  std::iota(t.begin(), t.end(), start);
  return t;
}

std::pair<std::vector<std::int32_t>, std::vector<std::int32_t>> fetch(const SequenceLoader& l, std::int64_t i) {
  std::vector<std::int32_t> x(static_cast<std::size_t>(l.seq_len())), y(x.size());
  l.sequence(i, x.data(), y.data());
  return {x, y};
}

TEST(SequenceLoader, UnshuffledOrderIsTheWrappingFormula) {
  const std::int32_t N = 103, T = 10;  // W = floor(102 / 10) = 10 windows; tokens 100..102 never start one
  auto tokens = iota_tokens(N, 1000);
  SequenceLoader loader(TokenSource::from_tokens(tokens), T, /*shuffle=*/false, 7);
  ASSERT_EQ(loader.num_windows(), 10);
  for (std::int64_t i = 0; i < 35; ++i) {
    auto [x, y] = fetch(loader, i);
    const std::int64_t start = (i % 10) * T;
    for (std::int64_t t = 0; t < T; ++t) {
      EXPECT_EQ(x[static_cast<std::size_t>(t)], tokens[static_cast<std::size_t>(start + t)]) << i;
      EXPECT_EQ(y[static_cast<std::size_t>(t)], tokens[static_cast<std::size_t>(start + t + 1)]) << i;
    }
    EXPECT_EQ(loader.epoch_of(i), i / 10);
  }
}

TEST(SequenceLoader, ExactlyOneWindowNeedsTPlusOneTokens) {
  SequenceLoader loader(TokenSource::from_tokens(iota_tokens(11)), 10, false, 0);
  EXPECT_EQ(loader.num_windows(), 1);
  auto [x, y] = fetch(loader, 3);
  EXPECT_EQ(x.front(), 0);
  EXPECT_EQ(y.back(), 10);
  EXPECT_THROW(SequenceLoader(TokenSource::from_tokens(iota_tokens(10)), 10, false, 0), Error);
}

TEST(SequenceLoader, ShardsEnumerateInSortedOrderWithoutCrossing) {
  ScratchDir dir;
  // Written out of order; b has 25 tokens (2 windows of 10), a 31 (3), c 5 (none).
  write_token_shard(dir.file("part_b.bin"), iota_tokens(25, 100), 1000);
  write_token_shard(dir.file("part_a.bin"), iota_tokens(31, 0), 1000);
  write_token_shard(dir.file("part_c.bin"), iota_tokens(5, 200), 1000);
  TokenSource source = TokenSource::from_glob(dir.file("part_*.bin"));
  ASSERT_EQ(source.num_parts(), 3);
  EXPECT_EQ(source.part_name(0), dir.file("part_a.bin"));
  EXPECT_EQ(source.vocab_size_hint(), 1000);
  SequenceLoader loader(source, 10, false, 0);
  ASSERT_EQ(loader.num_windows(), 5);
  const std::int32_t starts[] = {0, 10, 20, 100, 110};
  for (std::int64_t i = 0; i < 10; ++i) {
    auto [x, y] = fetch(loader, i);
    EXPECT_EQ(x.front(), starts[i % 5]);
    EXPECT_EQ(y.back(), starts[i % 5] + 10);
  }
}

TEST(SequenceLoader, EmptyGlobNamesThePattern) {
  ScratchDir dir;
  const std::string pattern = dir.file("nothing_*.bin");
  try {
    TokenSource::from_glob(pattern);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(pattern), std::string::npos) << e.what();
  }
}

TEST(SequenceLoader, ShuffledIsAPermutationPerEpochAndDeterministic) {
  const std::int32_t T = 4;
  auto tokens = iota_tokens(4 * 50 + 1);  // W = 50
  SequenceLoader a(TokenSource::from_tokens(tokens), T, true, 123);
  SequenceLoader b(TokenSource::from_tokens(tokens), T, true, 123);
  SequenceLoader c(TokenSource::from_tokens(tokens), T, true, 124);
  ASSERT_EQ(a.num_windows(), 50);
  std::vector<std::vector<std::int64_t>> epochs(3);
  for (std::int64_t i = 0; i < 150; ++i) {
    const std::int64_t w = a.window_of(i);
    EXPECT_EQ(w, b.window_of(i));
    epochs[static_cast<std::size_t>(a.epoch_of(i))].push_back(w);
    auto [x, y] = fetch(a, i);
    EXPECT_EQ(x.front(), w * T);
    EXPECT_EQ(y.back(), w * T + T);
  }
  for (auto e : epochs) {
    std::sort(e.begin(), e.end());
    for (std::int64_t k = 0; k < 50; ++k) EXPECT_EQ(e[static_cast<std::size_t>(k)], k);
  }
  std::vector<std::int64_t> e0, e1, c0;
  for (std::int64_t i = 0; i < 50; ++i) {
    e0.push_back(a.window_of(i));
    e1.push_back(a.window_of(50 + i));
    c0.push_back(c.window_of(i));
  }
  EXPECT_NE(e0, e1);
  EXPECT_NE(e0, c0);
  // Random access in any order gives the same answer (resume = knowing i).
  SequenceLoader d(TokenSource::from_tokens(tokens), T, true, 123);
  EXPECT_EQ(d.window_of(149), a.window_of(149));
  EXPECT_EQ(d.window_of(3), a.window_of(3));
  EXPECT_EQ(d.window_of(77), a.window_of(77));
}

}  // namespace
}  // namespace pouch
