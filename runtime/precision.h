#pragma once
// Training precision and the float <-> 16-bit conversions behind it.
//
// pouch's CPU kernels compute in fp32. Mixed precision is emulated the way it
// behaves numerically on a GPU: a tensor "stored in bf16/fp16" is an fp32
// buffer whose every value is exactly representable in that format
// (x = widen(narrow(x)), round_to_precision below). The arithmetic then sees
// the same rounded inputs a GPU kernel would read from 16-bit memory; only
// the accumulation inside a kernel stays fp32, as it does in cuBLAS with fp32
// accumulate.
//
// Formats (sign | exponent | mantissa bits):
//   fp32  1 | 8 | 23
//   bf16  1 | 8 |  7   the top half of an fp32: same range, 8 bits of precision
//   fp16  1 | 5 | 10   max 65504, smallest normal 2^-14, subnormals to 2^-24
// All narrowing rounds to nearest, ties to even (IEEE 754 default; what
// torch's .to(torch.bfloat16) / .to(torch.float16) do).
#include <cstdint>
#include <string_view>

namespace pouch {

enum class Precision { FP32, BF16, FP16 };

// Parses "fp32", "bf16" or "fp16" (config values); anything else fails with
// an error naming `key` and the accepted values.
Precision parse_precision(std::string_view text, std::string_view key);
std::string_view precision_name(Precision p);  // "fp32", "bf16", "fp16"

// bf16: round-to-nearest-even on the low 16 bits. NaN stays NaN (quiet bit
// set, sign kept); values past the bf16 max round to +-inf, as in torch.
std::uint16_t f32_to_bf16(float x);
float bf16_to_f32(std::uint16_t h);

// IEEE binary16: round-to-nearest-even, overflow to +-inf (anything that
// rounds above 65504), gradual underflow to subnormals and then +-0, NaN stays
// a quiet NaN with its sign.
std::uint16_t f32_to_f16(float x);
float f16_to_f32(std::uint16_t h);

// Bulk casts of n elements (OpenMP parallel). `p` must be BF16 or FP16.
void narrow(Precision p, const float* src, std::uint16_t* dst, std::int64_t n);
void widen(Precision p, const std::uint16_t* src, float* dst, std::int64_t n);

// In place x = widen(narrow(x)): leaves only values the 16-bit format can
// hold. This is how activations and weight copies are "stored" in 16 bits on
// the CPU. No-op for FP32.
void round_to_precision(Precision p, float* data, std::int64_t n);

// True when no element is inf or NaN (an fp16 overflow check).
bool all_finite(const float* data, std::int64_t n);

// data *= inv_scale, testing each result for inf/NaN in the same pass (what
// the optimizer would read is what is tested); with inv_scale == 1 only the
// test runs. Returns true when an element is not finite.
bool unscale_and_find_nonfinite(float* data, std::int64_t n, float inv_scale);

}  // namespace pouch
