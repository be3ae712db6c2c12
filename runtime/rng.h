#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC'11): a counter-based generator. The output is a pure function of
// (key = seed, counter = (stream, offset)), so streams split per rank, per
// parameter or per purpose are independent and reproducible, and a stream's
// whole state is three integers that fit in a checkpoint.
#include <array>
#include <cstdint>

namespace pouch {

std::array<std::uint32_t, 4> philox4x32(std::uint64_t key, std::array<std::uint32_t, 4> counter);

struct RngState {
  std::uint64_t seed = 0;
  std::uint64_t stream = 0;
  std::uint64_t offset = 0;  // number of 32-bit words consumed
};

class RngStream {
 public:
  RngStream() = default;
  RngStream(std::uint64_t seed, std::uint64_t stream) : state_{seed, stream, 0} {}
  explicit RngStream(RngState s) : state_(s) {}

  std::uint32_t next_u32();
  std::uint64_t next_u64();
  // Uniform in [0, 1) with 24 bits of mantissa.
  float uniform();
  // Uniform integer in [0, n) without modulo bias (n > 0).
  std::uint64_t below(std::uint64_t n);
  // Standard normal (Box-Muller on two uniforms).
  float normal();

  const RngState& state() const { return state_; }

 private:
  RngState state_;
};

// A stable 64-bit id for a name (FNV-1a), used to derive a stream per
// parameter so initialisation does not depend on creation order or sharding.
std::uint64_t stream_id(const char* name);

}  // namespace pouch
