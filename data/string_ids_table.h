#pragma once
// A hash table from byte strings to short id sequences, for the GPT-2
// tokenizer's vocabulary (bytes -> one id) and its per-thread chunk cache
// (chunk -> its ids). Open addressing with linear probing; keys and values
// live in two arenas, so an entry is 20 bytes and a lookup touches one slot
// and one key. Not thread-safe for writers; concurrent find() is fine.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pouch {

// A 64-bit hash of bytes: 8 bytes at a time, multiply-xorshift mixing.
std::uint64_t hash_bytes(std::string_view s);

class StringIdsTable {
 public:
  explicit StringIdsTable(std::size_t expected = 1024);

  // The ids stored for `key`, or an empty span when absent (values are never empty).
  std::span<const std::int32_t> find(std::string_view key) const { return find(key, hash_bytes(key)); }
  std::span<const std::int32_t> find(std::string_view key, std::uint64_t hash) const;
  // Stores ids (non-empty) for a key that is not present.
  void insert(std::string_view key, std::uint64_t hash, std::span<const std::int32_t> ids);
  void clear();

  std::size_t size() const { return size_; }
  // Bytes held by keys and values (a cache clears itself past a budget).
  std::size_t arena_bytes() const { return keys_.size() + values_.size() * sizeof(std::int32_t); }

 private:
  struct Slot {
    std::uint32_t tag = 0;  // upper hash bits | 1; 0 = empty
    std::uint32_t key_offset = 0, key_length = 0;
    std::uint32_t value_offset = 0, value_length = 0;
  };
  static std::uint32_t tag_of(std::uint64_t hash) { return static_cast<std::uint32_t>(hash >> 32) | 1u; }
  void grow();

  std::vector<Slot> slots_;
  std::size_t mask_ = 0, size_ = 0;
  std::string keys_;
  std::vector<std::int32_t> values_;
};

}  // namespace pouch
