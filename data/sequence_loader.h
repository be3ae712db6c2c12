#pragma once
// The deterministic order of training sequences (docs/data-format.md
// "Sequence order"). Random access by the run's global sequence index i, so
// data-parallel ranks can each take a disjoint set of indices and a resumed
// run needs nothing but the next index.
//
// Windows: a part (in-memory stream or shard) of N tokens holds
// W_p = floor((N - 1) / T) whole windows; window w of it is inputs
// tokens[w*T, w*T + T) and targets tokens[w*T + 1, w*T + T + 1). Windows are
// numbered part by part in sorted order and never cross a part; W = sum W_p.
//
//   shuffle = false:  sequence i is window (i mod W)  (llm.c's order, wrapping)
//   shuffle = true:   epoch e = i / W; sequence i is window perm_e[i mod W],
//                     perm_e = Fisher-Yates over 0..W-1: for k = W-1 down to 1,
//                     swap(perm[k], perm[rng.below(k + 1)]) with
//                     rng = RngStream(seed, derive_stream("data.order", e)).
#include <cstdint>
#include <memory>
#include <vector>

#include "data/token_source.h"

namespace pouch {

class SequenceLoader {
 public:
  // Throws pouch::Error when the source has no whole window (fewer than T+1 tokens in every part).
  SequenceLoader(TokenSource source, std::int64_t seq_len, bool shuffle, std::uint64_t seed);
  ~SequenceLoader();
  SequenceLoader(SequenceLoader&&) noexcept;
  SequenceLoader& operator=(SequenceLoader&&) noexcept;

  std::int64_t seq_len() const { return seq_len_; }
  bool shuffle() const { return shuffle_; }
  std::int64_t num_windows() const { return window_start_.back(); }
  std::int64_t epoch_of(std::int64_t i) const { return i / num_windows(); }
  // The window sequence i reads.
  std::int64_t window_of(std::int64_t i) const;
  // inputs (T), targets (T) of sequence i >= 0.
  void sequence(std::int64_t i, std::int32_t* inputs, std::int32_t* targets) const;
  const TokenSource& source() const { return source_; }

 private:
  struct PermutationCache;
  std::shared_ptr<const std::vector<std::int64_t>> permutation(std::int64_t epoch) const;

  TokenSource source_;
  std::int64_t seq_len_ = 0;
  bool shuffle_ = false;
  std::uint64_t seed_ = 0;
  std::vector<std::int64_t> window_start_;  // (parts + 1): first global window of each part
  std::unique_ptr<PermutationCache> cache_;
};

}  // namespace pouch
