#include "data/token_source.h"

#include <algorithm>

#include "data/path_glob.h"
#include "runtime/error.h"

namespace pouch {

TokenSource TokenSource::from_tokens(std::vector<std::int32_t> tokens, std::string name) {
  TokenSource s;
  s.name_ = std::move(name);
  s.memory_ = std::make_shared<const std::vector<std::int32_t>>(std::move(tokens));
  return s;
}

TokenSource TokenSource::from_glob(const std::string& pattern) {
  auto shards = std::make_shared<std::vector<TokenShard>>();
  for (const auto& path : expand_glob(pattern, "token shards")) shards->emplace_back(path);
  TokenSource s;
  s.name_ = pattern;
  s.shards_ = std::move(shards);
  return s;
}

std::int64_t TokenSource::num_parts() const {
  return memory_ ? 1 : static_cast<std::int64_t>(shards_ ? shards_->size() : 0);
}

std::int64_t TokenSource::part_size(std::int64_t part) const {
  POUCH_CHECK(part >= 0 && part < num_parts());
  return memory_ ? static_cast<std::int64_t>(memory_->size()) : (*shards_)[static_cast<std::size_t>(part)].size();
}

const std::string& TokenSource::part_name(std::int64_t part) const {
  POUCH_CHECK(part >= 0 && part < num_parts());
  return memory_ ? name_ : (*shards_)[static_cast<std::size_t>(part)].path();
}

std::int64_t TokenSource::total_tokens() const {
  std::int64_t n = 0;
  for (std::int64_t p = 0; p < num_parts(); ++p) n += part_size(p);
  return n;
}

std::int64_t TokenSource::vocab_size_hint() const {
  std::int64_t v = 0;
  if (shards_)
    for (const auto& shard : *shards_) v = std::max(v, shard.vocab_size());
  return v;
}

void TokenSource::copy(std::int64_t part, std::int64_t begin, std::int64_t count, std::int32_t* out) const {
  POUCH_CHECK(begin >= 0 && count >= 0 && begin + count <= part_size(part), "range [{}, {}) of {}", begin,
              begin + count, part_name(part));
  if (memory_)
    std::copy_n(memory_->data() + begin, count, out);
  else
    (*shards_)[static_cast<std::size_t>(part)].copy(begin, count, out);
}

}  // namespace pouch
