#include "data/bpe_trainer.h"

#include <algorithm>
#include <queue>
#include <vector>

#include "data/pretokenize.h"
#include "runtime/error.h"
#include "runtime/log.h"

namespace pouch {

namespace {

struct Word {
  std::vector<std::int32_t> ids;
  std::int64_t freq = 0;
};

struct HeapEntry {
  std::int64_t count;
  std::uint64_t key;
};

// priority_queue's top is the "largest": highest count, then smallest key.
struct HeapOrder {
  bool operator()(const HeapEntry& x, const HeapEntry& y) const {
    return x.count != y.count ? x.count < y.count : x.key > y.key;
  }
};

bool contains_pair(const std::vector<std::int32_t>& ids, std::int32_t a, std::int32_t b) {
  for (std::size_t i = 0; i + 1 < ids.size(); ++i)
    if (ids[i] == a && ids[i + 1] == b) return true;
  return false;
}

class MergeState {
 public:
  explicit MergeState(std::vector<Word> words) : words_(std::move(words)) {
    for (std::size_t w = 0; w < words_.size(); ++w) add_pairs(static_cast<std::int32_t>(w), -1);
    for (const auto& [key, count] : counts_) heap_.push({count, key});
  }

  // The best pair with a current count of at least 2, or false.
  bool pop_best(std::uint64_t& key) {
    while (!heap_.empty()) {
      HeapEntry top = heap_.top();
      heap_.pop();
      auto it = counts_.find(top.key);
      std::int64_t current = it == counts_.end() ? 0 : it->second;
      if (current != top.count) {
        if (current > 0) heap_.push({current, top.key});
        continue;
      }
      if (current < 2) return false;
      key = top.key;
      return true;
    }
    return false;
  }

  void merge(std::uint64_t key, std::int32_t new_id) {
    const auto a = static_cast<std::int32_t>(key >> 32), b = static_cast<std::int32_t>(key & 0xffffffffu);
    std::vector<std::int32_t> holders = std::move(where_[key]);
    where_.erase(key);
    std::sort(holders.begin(), holders.end());
    holders.erase(std::unique(holders.begin(), holders.end()), holders.end());
    touched_.clear();
    for (std::int32_t w : holders) {
      auto& ids = words_[static_cast<std::size_t>(w)].ids;
      if (!contains_pair(ids, a, b)) continue;
      remove_pairs(w);
      std::size_t out = 0;
      for (std::size_t r = 0; r < ids.size(); ++r) {
        if (r + 1 < ids.size() && ids[r] == a && ids[r + 1] == b) {
          ids[out++] = new_id;
          ++r;
        } else {
          ids[out++] = ids[r];
        }
      }
      ids.resize(out);
      add_pairs(w, new_id);
    }
    // Only pairs with the new id gained counts; the others can only have
    // dropped, which pop_best() notices lazily.
    std::sort(touched_.begin(), touched_.end());
    touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
    for (std::uint64_t p : touched_) heap_.push({counts_[p], p});
  }

 private:
  void remove_pairs(std::int32_t w) {
    const Word& word = words_[static_cast<std::size_t>(w)];
    for (std::size_t i = 0; i + 1 < word.ids.size(); ++i)
      counts_[bpe_pair_key(word.ids[i], word.ids[i + 1])] -= word.freq;
  }

  // Adds word w's pairs; records w as a holder of pairs that are new (all of
  // them at start-up, new_id < 0; afterwards those that contain new_id).
  void add_pairs(std::int32_t w, std::int32_t new_id) {
    const Word& word = words_[static_cast<std::size_t>(w)];
    for (std::size_t i = 0; i + 1 < word.ids.size(); ++i) {
      std::uint64_t p = bpe_pair_key(word.ids[i], word.ids[i + 1]);
      counts_[p] += word.freq;
      if (new_id < 0 || word.ids[i] == new_id || word.ids[i + 1] == new_id) {
        where_[p].push_back(w);
        if (new_id >= 0) touched_.push_back(p);
      }
    }
  }

  std::vector<Word> words_;
  std::unordered_map<std::uint64_t, std::int64_t> counts_;
  std::unordered_map<std::uint64_t, std::vector<std::int32_t>> where_;
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, HeapOrder> heap_;
  std::vector<std::uint64_t> touched_;
};

}  // namespace

void BpeTrainer::add_text(std::string_view text) {
  for (std::string_view chunk : pretokenize(text)) ++chunk_counts_[std::string(chunk)];
}

BpeTokenizer BpeTrainer::train(std::int64_t vocab_size) const {
  if (vocab_size < 257)
    fail("bpe: vocabulary size {} is too small: it needs 256 byte tokens + the end-of-text token (>= 257)", vocab_size);
  std::vector<Word> words;
  words.reserve(chunk_counts_.size());
  for (const auto& [chunk, freq] : chunk_counts_) {
    if (chunk.size() < 2) continue;
    Word word;
    word.ids.reserve(chunk.size());
    for (char c : chunk) word.ids.push_back(static_cast<unsigned char>(c));
    word.freq = freq;
    words.push_back(std::move(word));
  }
  MergeState state(std::move(words));
  const auto target_merges = static_cast<std::size_t>(vocab_size - 257);
  std::vector<BpePair> merges;
  merges.reserve(target_merges);
  std::uint64_t key = 0;
  while (merges.size() < target_merges && state.pop_best(key)) {
    auto new_id = static_cast<std::int32_t>(256 + merges.size());
    merges.emplace_back(static_cast<std::int32_t>(key >> 32), static_cast<std::int32_t>(key & 0xffffffffu));
    state.merge(key, new_id);
  }
  if (merges.size() < target_merges)
    log_warn("bpe: stopped at a vocabulary of {} (asked for {}): no pair of tokens occurs twice in the corpus any more",
             257 + merges.size(), vocab_size);
  return BpeTokenizer(std::move(merges));
}

}  // namespace pouch
