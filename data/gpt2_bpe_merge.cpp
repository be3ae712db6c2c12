#include "data/gpt2_bpe_merge.h"

#include <algorithm>
#include <bit>
#include <functional>

#include "runtime/error.h"

namespace pouch {

PairRankTable::PairRankTable(std::size_t expected) {
  const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(16, expected * 2));
  entries_.assign(capacity, Entry{kEmpty, 0});
  mask_ = capacity - 1;
}

void PairRankTable::insert(std::int32_t left, std::int32_t right, std::int32_t id) {
  POUCH_CHECK(left >= 0 && right >= 0 && (size_ + 1) * 2 <= entries_.size(), "pair table sized for fewer pairs");
  const std::uint64_t key = pair_key(left, right);
  std::size_t i = slot_of(key);
  while (entries_[i].key != kEmpty && entries_[i].key != key) i = (i + 1) & mask_;
  if (entries_[i].key == kEmpty) ++size_;
  entries_[i] = Entry{key, id};
}

void gpt2_merge(std::vector<std::int32_t>& ids, const PairRankTable& ranks) {
  if (ids.size() <= kLinearMergeMax)
    gpt2_merge_linear(ids, ranks);
  else
    gpt2_merge_heap(ids, ranks);
}

void gpt2_merge_linear(std::vector<std::int32_t>& ids, const PairRankTable& ranks) {
  std::size_t n = ids.size();
  if (n < 2) return;
  // pair[k] = rank of (ids[k], ids[k+1]), k < n - 1.
  std::int32_t pair_buf[kLinearMergeMax];
  std::vector<std::int32_t> pair_heap_buf;
  std::int32_t* pair = pair_buf;
  if (n > kLinearMergeMax) {
    pair_heap_buf.resize(n);
    pair = pair_heap_buf.data();
  }
  for (std::size_t k = 0; k + 1 < n; ++k) pair[k] = ranks.rank(ids[k], ids[k + 1]);
  while (n > 1) {
    std::size_t best = 0;
    for (std::size_t k = 1; k + 1 < n; ++k)
      if (pair[k] < pair[best]) best = k;
    const std::int32_t merged = pair[best];
    if (merged == kNoMerge) break;
    ids[best] = merged;
    for (std::size_t k = best + 1; k + 1 < n; ++k) ids[k] = ids[k + 1];
    for (std::size_t k = best + 1; k + 2 < n; ++k) pair[k] = pair[k + 1];
    --n;
    if (best + 1 < n) pair[best] = ranks.rank(ids[best], ids[best + 1]);
    if (best > 0) pair[best - 1] = ranks.rank(ids[best - 1], ids[best]);
  }
  ids.resize(n);
}

void gpt2_merge_heap(std::vector<std::int32_t>& ids, const PairRankTable& ranks) {
  const std::size_t n = ids.size();
  if (n < 2) return;
  POUCH_CHECK(n < (1ull << 32), "chunk of {} bytes", n);
  constexpr std::uint32_t kNone = ~0u;
  // A candidate merge: the pair starting at part `left`, made from the ids it
  // held when pushed. The heap orders by rank, then position (leftmost
  // first); an entry is stale once either part has changed or gone.
  struct Candidate {
    std::int32_t rank;
    std::uint32_t left;
    std::int32_t left_id, right_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  // Reused across calls (per thread) so that long chunks cost no allocation.
  thread_local std::vector<std::uint32_t> prev, next;
  thread_local std::vector<Candidate> heap;
  prev.resize(n);
  next.resize(n);
  heap.clear();
  // A doubly linked list over the surviving parts; a part keeps its first
  // position, so positions order the parts left to right. A merged-away part
  // gets prev = kNone - 1 (dead).
  constexpr std::uint32_t kDead = kNone - 1;
  for (std::size_t k = 0; k < n; ++k) {
    prev[k] = k == 0 ? kNone : static_cast<std::uint32_t>(k - 1);
    next[k] = k + 1 == n ? kNone : static_cast<std::uint32_t>(k + 1);
  }
  const auto greater = std::greater<Candidate>();
  auto push = [&](std::uint32_t left) {
    if (left == kNone || next[left] == kNone) return;
    const std::int32_t r = ranks.rank(ids[left], ids[next[left]]);
    if (r == kNoMerge) return;
    heap.push_back(Candidate{r, left, ids[left], ids[next[left]]});
    std::push_heap(heap.begin(), heap.end(), greater);
  };
  for (std::size_t k = 0; k + 1 < n; ++k) push(static_cast<std::uint32_t>(k));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), greater);
    const Candidate c = heap.back();
    heap.pop_back();
    const std::uint32_t right = next[c.left];
    if (prev[c.left] == kDead || right == kNone || ids[c.left] != c.left_id || ids[right] != c.right_id) continue;
    ids[c.left] = c.rank;
    prev[right] = kDead;
    next[c.left] = next[right];
    if (next[right] != kNone) prev[next[right]] = c.left;
    push(c.left);
    push(prev[c.left]);
  }
  std::size_t w = 0;
  for (std::uint32_t k = 0; k != kNone; k = next[k]) ids[w++] = ids[k];
  ids.resize(w);
}

}  // namespace pouch
