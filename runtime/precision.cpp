#include "runtime/precision.h"

#include <bit>
#include <cmath>

#include "runtime/cpu/simd.h"
#include "runtime/error.h"

namespace pouch {

Precision parse_precision(std::string_view text, std::string_view key) {
  if (text == "fp32") return Precision::FP32;
  if (text == "bf16") return Precision::BF16;
  if (text == "fp16") return Precision::FP16;
  fail("{} = \"{}\": expected fp32, bf16 or fp16", key, text);
}

std::string_view precision_name(Precision p) {
  switch (p) {
    case Precision::FP32:
      return "fp32";
    case Precision::BF16:
      return "bf16";
    case Precision::FP16:
      return "fp16";
  }
  return "?";
}

std::uint16_t f32_to_bf16(float x) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
  // NaN: keep sign and the top payload bits, force the quiet bit so that a
  // payload living only in the dropped low bits cannot turn into inf.
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  // Round to nearest, ties to even: add 0x7FFF plus the lowest kept bit, then
  // truncate. A carry out of the mantissa bumps the exponent, which is the
  // correct rounding (up to inf past the bf16 max).
  const std::uint32_t lsb = (u >> 16) & 1u;
  return static_cast<std::uint16_t>((u + 0x7FFFu + lsb) >> 16);
}

float bf16_to_f32(std::uint16_t h) { return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16); }

std::uint16_t f32_to_f16(float x) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
  const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t a = u & 0x7FFFFFFFu;     // |x|
  if (a > 0x7F800000u) return sign | 0x7E00u;  // quiet NaN (torch/c10 writes the same)
  // 65520 = 65504 + ulp/2 is the tie between the fp16 max (odd mantissa 0x3FF)
  // and 2^16; ties-to-even goes up, so everything from 65520 on is inf.
  if (a >= 0x477FF000u) return sign | 0x7C00u;
  if (a >= 0x38800000u) {  // >= 2^-14: normal in fp16
    // Rebias the exponent (127 -> 15) and keep the top 10 of 23 mantissa bits.
    std::uint32_t h = ((a >> 23) - 127u + 15u) << 10 | ((a >> 13) & 0x3FFu);
    const std::uint32_t rem = a & 0x1FFFu;                   // the 13 dropped bits
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // carry may bump the exponent: still right
    return sign | static_cast<std::uint16_t>(h);
  }
  // Subnormal in fp16: multiples of 2^-24. 2^-25 itself is the tie between 0
  // and 2^-24 and goes to 0 (even).
  if (a <= 0x33000000u) return sign;
  // |x| = m * 2^(e-150) with the implicit bit in m, so |x| / 2^-24 = m >> (126 - e).
  const std::uint32_t e = a >> 23;  // 102..112 here
  const std::uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
  const std::uint32_t shift = 126u - e;  // 14..24
  std::uint32_t h = m >> shift;
  const std::uint32_t rem = m & ((1u << shift) - 1u);
  const std::uint32_t half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (h & 1u))) ++h;  // may round up to 0x400, the smallest normal
  return sign | static_cast<std::uint16_t>(h);
}

float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1Fu;
  const std::uint32_t mant = h & 0x3FFu;
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24, exact in fp32.
    const float mag = std::ldexp(static_cast<float>(mant), -24);
    return sign != 0 ? -mag : mag;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7F800000u | (mant << 13));  // inf, NaN (payload kept)
  return std::bit_cast<float>(sign | ((exp - 15u + 127u) << 23) | (mant << 13));
}

void narrow(Precision p, const float* src, std::uint16_t* dst, std::int64_t n) {
  POUCH_CHECK(p != Precision::FP32, "narrow() to fp32 makes no sense");
  if (p == Precision::BF16) {
#pragma omp parallel for schedule(static) if (n >= cpu::kParallelMinWork)
    for (std::int64_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
  } else {
#pragma omp parallel for schedule(static) if (n >= cpu::kParallelMinWork)
    for (std::int64_t i = 0; i < n; ++i) dst[i] = f32_to_f16(src[i]);
  }
}

void widen(Precision p, const std::uint16_t* src, float* dst, std::int64_t n) {
  POUCH_CHECK(p != Precision::FP32, "widen() from fp32 makes no sense");
  if (p == Precision::BF16) {
#pragma omp parallel for schedule(static) if (n >= cpu::kParallelMinWork)
    for (std::int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
  } else {
#pragma omp parallel for schedule(static) if (n >= cpu::kParallelMinWork)
    for (std::int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
  }
}

void round_to_precision(Precision p, float* data, std::int64_t n) {
  switch (p) {
    case Precision::FP32:
      return;
    case Precision::BF16:
#pragma omp parallel for schedule(static) if (n >= cpu::kParallelMinWork)
      for (std::int64_t i = 0; i < n; ++i) data[i] = bf16_to_f32(f32_to_bf16(data[i]));
      return;
    case Precision::FP16:
#pragma omp parallel for schedule(static) if (n >= cpu::kParallelMinWork)
      for (std::int64_t i = 0; i < n; ++i) data[i] = f16_to_f32(f32_to_f16(data[i]));
      return;
  }
}

bool all_finite(const float* data, std::int64_t n) {
  // Bit test instead of std::isfinite: immune to -ffast-math and vectorizes.
  std::uint32_t bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (n >= cpu::kParallelMinWork)
  for (std::int64_t i = 0; i < n; ++i)
    bad |= static_cast<std::uint32_t>((std::bit_cast<std::uint32_t>(data[i]) & 0x7F800000u) == 0x7F800000u);
  return bad == 0;
}

bool unscale_and_find_nonfinite(float* data, std::int64_t n, float inv_scale) {
  if (inv_scale == 1.0f) return !all_finite(data, n);
  std::uint32_t bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (n >= cpu::kParallelMinWork)
  for (std::int64_t i = 0; i < n; ++i) {
    data[i] *= inv_scale;
    bad |= static_cast<std::uint32_t>((std::bit_cast<std::uint32_t>(data[i]) & 0x7F800000u) == 0x7F800000u);
  }
  return bad != 0;
}

}  // namespace pouch
