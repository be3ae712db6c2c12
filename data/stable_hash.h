#pragma once
// Stable 64-bit hashes. They decide which built-in problems are held out and
// which RNG stream each sample or epoch uses, so they are part of the data
// format (docs/data-format.md) and must never change.
#include <cstdint>
#include <string_view>

namespace pouch {

// SplitMix64's finaliser (Steele, Lea, Flood, "Fast splittable pseudorandom
// number generators", OOPSLA'14): a bijection that spreads every input bit.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// FNV-1a, 64-bit.
constexpr std::uint64_t fnv1a64(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// The RngStream id of item `index` of a named purpose ("task.train",
// "data.order", ...): mix64(fnv1a64(purpose) ^ mix64(index)).
constexpr std::uint64_t derive_stream(std::string_view purpose, std::uint64_t index) {
  return mix64(fnv1a64(purpose) ^ mix64(index));
}

}  // namespace pouch
