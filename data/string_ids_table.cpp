#include "data/string_ids_table.h"

#include <bit>
#include <cstring>

#include "runtime/error.h"

namespace pouch {

namespace {
constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ull;

std::uint64_t load_tail(const char* p, std::size_t n) {
  std::uint64_t v = 0;
  std::memcpy(&v, p, n);
  return v;
}

std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return h;
}
}  // namespace

std::uint64_t hash_bytes(std::string_view s) {
  std::uint64_t h = s.size() * kMul;
  const char* p = s.data();
  std::size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    h = std::rotl((h ^ v) * kMul, 29);
  }
  if (n) h = (h ^ load_tail(p, n)) * kMul;
  return mix(h);
}

StringIdsTable::StringIdsTable(std::size_t expected) {
  const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(16, expected * 2));
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
}

std::span<const std::int32_t> StringIdsTable::find(std::string_view key, std::uint64_t hash) const {
  const std::uint32_t tag = tag_of(hash);
  for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.tag == 0) return {};
    if (s.tag == tag && s.key_length == key.size() &&
        std::memcmp(keys_.data() + s.key_offset, key.data(), key.size()) == 0)
      return {values_.data() + s.value_offset, s.value_length};
  }
}

void StringIdsTable::insert(std::string_view key, std::uint64_t hash, std::span<const std::int32_t> ids) {
  POUCH_CHECK(!ids.empty());
  if ((size_ + 1) * 2 > slots_.size()) grow();
  POUCH_CHECK(keys_.size() + key.size() < (1ull << 32) && values_.size() + ids.size() < (1ull << 32),
              "string table arena over 4 GiB");
  Slot slot{tag_of(hash), static_cast<std::uint32_t>(keys_.size()), static_cast<std::uint32_t>(key.size()),
            static_cast<std::uint32_t>(values_.size()), static_cast<std::uint32_t>(ids.size())};
  keys_.append(key);
  values_.insert(values_.end(), ids.begin(), ids.end());
  std::size_t i = hash & mask_;
  while (slots_[i].tag != 0) i = (i + 1) & mask_;
  slots_[i] = slot;
  ++size_;
}

void StringIdsTable::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.size() * 2, Slot{});
  mask_ = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.tag == 0) continue;
    std::size_t i = hash_bytes(std::string_view(keys_.data() + s.key_offset, s.key_length)) & mask_;
    while (slots_[i].tag != 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void StringIdsTable::clear() {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  size_ = 0;
  keys_.clear();
  values_.clear();
}

}  // namespace pouch
