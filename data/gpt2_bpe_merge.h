#pragma once
// The byte-pair merge of one pre-tokenized chunk, with tiktoken's semantics
// (tiktoken src/lib.rs, byte_pair_merge): the chunk starts as its bytes'
// tokens; while some adjacent pair of parts concatenates to a token, merge
// the pair whose token has the lowest rank (the leftmost such pair on ties).
// A token's rank is its id (GPT-2's ids are its merge order), so the rank of
// a pair is the id of its concatenation.
#include <cstdint>
#include <limits>
#include <vector>

namespace pouch {

inline constexpr std::int32_t kNoMerge = std::numeric_limits<std::int32_t>::max();

// (left id, right id) -> the id of their concatenation, for every way of
// cutting every token into two tokens. Open addressing on the 64-bit pair key.
class PairRankTable {
 public:
  PairRankTable() = default;
  explicit PairRankTable(std::size_t expected);
  void insert(std::int32_t left, std::int32_t right, std::int32_t id);
  std::int32_t rank(std::int32_t left, std::int32_t right) const {
    const std::uint64_t key = pair_key(left, right);
    for (std::size_t i = slot_of(key);; i = (i + 1) & mask_) {
      const Entry& e = entries_[i];
      if (e.key == key) return e.id;
      if (e.key == kEmpty) return kNoMerge;
    }
  }
  std::size_t size() const { return size_; }

 private:
  struct Entry {
    std::uint64_t key;
    std::int32_t id;
  };
  static constexpr std::uint64_t kEmpty = ~0ull;
  static std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
  }
  std::size_t slot_of(std::uint64_t key) const { return ((key * 0x9E3779B97F4A7C15ull) >> 20) & mask_; }

  std::vector<Entry> entries_;
  std::size_t mask_ = 0, size_ = 0;
};

// Merges `ids` (the chunk's byte tokens) in place. Chunks up to
// kLinearMergeMax parts rescan the pairs after each merge (O(n^2), fastest for
// words); longer ones keep the pairs in a heap (O(n log n)). Both give the
// same result.
inline constexpr std::size_t kLinearMergeMax = 64;
void gpt2_merge(std::vector<std::int32_t>& ids, const PairRankTable& ranks);
void gpt2_merge_linear(std::vector<std::int32_t>& ids, const PairRankTable& ranks);
void gpt2_merge_heap(std::vector<std::int32_t>& ids, const PairRankTable& ranks);

}  // namespace pouch
