#include "data/sequence_loader.h"

#include <algorithm>
#include <mutex>
#include <numeric>

#include "data/stable_hash.h"
#include "runtime/error.h"
#include "runtime/rng.h"

namespace pouch {

// The permutations of the two most recent epochs: a run reads epochs in
// order, and data-parallel ranks straddle at most one boundary at a time.
struct SequenceLoader::PermutationCache {
  std::mutex mutex;
  std::int64_t epoch[2] = {-1, -1};
  std::shared_ptr<const std::vector<std::int64_t>> perm[2];
  int next = 0;
};

SequenceLoader::SequenceLoader(TokenSource source, std::int64_t seq_len, bool shuffle, std::uint64_t seed)
    : source_(std::move(source)),
      seq_len_(seq_len),
      shuffle_(shuffle),
      seed_(seed),
      cache_(std::make_unique<PermutationCache>()) {
  if (seq_len_ <= 0) fail("sequence length {} must be positive", seq_len_);
  window_start_.push_back(0);
  for (std::int64_t p = 0; p < source_.num_parts(); ++p) {
    std::int64_t n = source_.part_size(p);
    window_start_.push_back(window_start_.back() + (n > 0 ? (n - 1) / seq_len_ : 0));
  }
  if (num_windows() == 0)
    fail("data '{}' holds {} tokens but no part has the {} tokens one sequence of length {} needs (T + 1)",
         source_.name(), source_.total_tokens(), seq_len_ + 1, seq_len_);
}

SequenceLoader::~SequenceLoader() = default;
SequenceLoader::SequenceLoader(SequenceLoader&&) noexcept = default;
SequenceLoader& SequenceLoader::operator=(SequenceLoader&&) noexcept = default;

std::shared_ptr<const std::vector<std::int64_t>> SequenceLoader::permutation(std::int64_t epoch) const {
  std::lock_guard<std::mutex> lock(cache_->mutex);
  for (int k = 0; k < 2; ++k)
    if (cache_->epoch[k] == epoch) return cache_->perm[k];
  auto perm = std::make_shared<std::vector<std::int64_t>>(static_cast<std::size_t>(num_windows()));
  std::iota(perm->begin(), perm->end(), std::int64_t{0});
  RngStream rng(seed_, derive_stream("data.order", static_cast<std::uint64_t>(epoch)));
  for (std::int64_t k = num_windows() - 1; k >= 1; --k)
    std::swap((*perm)[static_cast<std::size_t>(k)], (*perm)[rng.below(static_cast<std::uint64_t>(k + 1))]);
  int slot = cache_->next;
  cache_->next ^= 1;
  cache_->epoch[slot] = epoch;
  cache_->perm[slot] = perm;
  return perm;
}

std::int64_t SequenceLoader::window_of(std::int64_t i) const {
  POUCH_CHECK(i >= 0, "negative sequence index {}", i);
  const std::int64_t slot = i % num_windows();
  if (!shuffle_) return slot;
  return (*permutation(epoch_of(i)))[static_cast<std::size_t>(slot)];
}

void SequenceLoader::sequence(std::int64_t i, std::int32_t* inputs, std::int32_t* targets) const {
  const std::int64_t w = window_of(i);
  auto it = std::upper_bound(window_start_.begin(), window_start_.end(), w);
  const auto part = static_cast<std::int64_t>(it - window_start_.begin()) - 1;
  const std::int64_t begin = (w - window_start_[static_cast<std::size_t>(part)]) * seq_len_;
  // The T+1 tokens overlap by T: read once into inputs, then shift.
  source_.copy(part, begin, seq_len_, inputs);
  std::copy(inputs + 1, inputs + seq_len_, targets);
  source_.copy(part, begin + seq_len_, 1, targets + seq_len_ - 1);
}

}  // namespace pouch
