#include "runtime/rng.h"

#include <cmath>
#include <numbers>

namespace pouch {

std::array<std::uint32_t, 4> philox4x32(std::uint64_t key, std::array<std::uint32_t, 4> ctr) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * ctr[0];
    std::uint64_t p1 = static_cast<std::uint64_t>(kM1) * ctr[2];
    std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    ctr = {hi1 ^ ctr[1] ^ k0, lo1, hi0 ^ ctr[3] ^ k1, lo0};
    k0 += kW0;
    k1 += kW1;
  }
  return ctr;
}

std::uint32_t RngStream::next_u32() {
  // One Philox block yields 4 words; word i of block b is offset 4b+i.
  std::uint64_t block = state_.offset >> 2;
  auto out = philox4x32(state_.seed,
                        {static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
                         static_cast<std::uint32_t>(state_.stream), static_cast<std::uint32_t>(state_.stream >> 32)});
  std::uint32_t r = out[state_.offset & 3];
  ++state_.offset;
  return r;
}

std::uint64_t RngStream::next_u64() {
  std::uint64_t hi = next_u32();
  return (hi << 32) | next_u32();
}

float RngStream::uniform() { return static_cast<float>(next_u32() >> 8) * (1.0f / 16777216.0f); }

std::uint64_t RngStream::below(std::uint64_t n) {
  // Lemire's rejection on 64-bit draws keeps the result unbiased.
  std::uint64_t threshold = (0 - n) % n;
  while (true) {
    std::uint64_t x = next_u64();
    __uint128_t m = static_cast<__uint128_t>(x) * n;
    if (static_cast<std::uint64_t>(m) >= threshold) return static_cast<std::uint64_t>(m >> 64);
  }
}

float RngStream::normal() {
  // u1 in (0, 1] so log(u1) is finite.
  double u1 = (static_cast<double>(next_u32()) + 1.0) / 4294967296.0;
  double u2 = static_cast<double>(next_u32()) / 4294967296.0;
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
}

std::uint64_t stream_id(const char* name) {
  std::uint64_t h = 1469598103934665603ull;
  for (const char* p = name; *p; ++p) {
    h ^= static_cast<unsigned char>(*p);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace pouch
