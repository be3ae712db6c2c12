// round_to_precision, cast, unscale_and_check. The references round in double
// with their own arithmetic (frexp/ldexp and round-half-even on the scaled
// significand), not with runtime/precision.cpp, and are held to exact bits.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "tests/runtime/op_harness/case_helpers.h"

namespace pouch::op_harness {
namespace {

// pouch::Precision is the training precision; Precision here is the harness's error bound.
using Training = pouch::Precision;

constexpr double kInf = std::numeric_limits<double>::infinity();

// x rounded to nearest, ties to even, to a binary format with `digits`
// significand bits, normal exponents down to min_exp (x = m 2^e, 1 <= m < 2,
// e >= min_exp; below it the spacing stays 2^(min_exp - digits + 1):
// subnormals), overflowing to inf above max_finite.
double round_format(double x, int digits, int min_exp, double max_finite) {
  if (x == 0.0 || std::isinf(x)) return x;
  int e = 0;
  std::frexp(x, &e);  // x = f 2^e, 0.5 <= |f| < 1: the leading bit is 2^(e-1)
  const int quantum = std::max(e - 1, min_exp) - (digits - 1);
  const double r = std::ldexp(std::nearbyint(std::ldexp(x, -quantum)), quantum);  // nearbyint: ties to even
  return std::abs(r) > max_finite ? std::copysign(kInf, x) : r;
}

double round_bf16(double x) { return round_format(x, 8, -126, std::ldexp(255.0, 120)); }
double round_f16(double x) { return round_format(x, 11, -14, 65504.0); }
double round_to(Training p, double x) { return p == Training::BF16 ? round_bf16(x) : round_f16(x); }

// The bit patterns of values already rounded to the format.
double bf16_bits(double r) { return static_cast<double>(std::bit_cast<std::uint32_t>(static_cast<float>(r)) >> 16); }
double f16_bits(double r) {
  const std::uint32_t sign = std::signbit(r) ? 0x8000u : 0u;
  const double a = std::abs(r);
  if (std::isinf(a)) return sign | 0x7C00u;
  if (a < std::ldexp(1.0, -14)) return sign | static_cast<std::uint32_t>(std::ldexp(a, 24));  // subnormal or 0
  int e = 0;
  const double f = std::frexp(a, &e);  // a = f 2^e, 0.5 <= f < 1
  const auto exponent = static_cast<std::uint32_t>(e - 1 + 15);
  const auto mantissa = static_cast<std::uint32_t>(std::ldexp(f, 11)) - 1024u;
  return sign | (exponent << 10) | mantissa;
}

// Values over many magnitudes: uniform(-1, 1) times 10^k, k from -9 to 5,
// so that fp16 meets its subnormals, its overflow (65520 and up round to
// inf) and bf16 its 8-bit significand; plus exact ties at the end.
std::vector<float> spread(Rng& rng, i64 n) {
  std::vector<float> v = rng.uniform(n);
  for (i64 i = 0; i < n; ++i) v[i] *= static_cast<float>(std::pow(10.0, static_cast<double>(i % 15) - 9.0));
  // Ties: 1 + 2^-8 (bf16, rounds to even: 1) and 1 + 3 * 2^-11 (fp16: to 1 + 2^-9, even).
  if (n >= 2) v[n - 2] = 1.0f + std::ldexp(1.0f, -8);
  if (n >= 3) v[n - 3] = -(1.0f + 3.0f * std::ldexp(1.0f, -11));
  return v;
}

void add_round(std::vector<OpCase>& cases, i64 n, Training p, bool in_place) {
  const std::string variant = fmt::format("n={} {}{}", n, precision_name(p), in_place ? " (in place)" : "");
  cases.push_back({"round_to_precision", variant, Precision::Exact, [=](std::uint32_t seed) {
                     Rng rng(seed);
                     auto x = share(spread(rng, n));
                     Problem pr;
                     pr.run = [=](Backend& be) {
                       Tensor xt = upload(be, *x, {n});
                       Tensor out = in_place ? xt : poisoned(be, {n});
                       be.round_to_precision(out, xt, p);
                       return Outputs{read(be, "out", out)};
                     };
                     pr.reference = [=] {
                       Vec out = to_vec(*x);
                       for (double& v : out) v = round_to(p, v);
                       return Outputs{{"out", out}};
                     };
                     return pr;
                   }});
}

void add_cast_down(std::vector<OpCase>& cases, i64 n, DType to) {
  cases.push_back({"cast", fmt::format("n={} f32 -> {}", n, dtype_name(to)), Precision::Exact, [=](std::uint32_t seed) {
                     Rng rng(seed);
                     auto x = share(spread(rng, n));
                     // 16-bit outputs cannot be filled with NaN: random bits, all overwritten.
                     const Tensor garbage = random_host(to, {n}, rng);
                     Problem pr;
                     pr.run = [=](Backend& be) {
                       Tensor out = upload_host(be, garbage);
                       be.cast(out, upload(be, *x, {n}));
                       return Outputs{read(be, "out", out)};
                     };
                     pr.reference = [=] {
                       Vec out = to_vec(*x);
                       for (double& v : out) v = to == DType::BF16 ? bf16_bits(round_bf16(v)) : f16_bits(round_f16(v));
                       return Outputs{{"out", out}};
                     };
                     return pr;
                   }});
}

void add_cast_up(std::vector<OpCase>& cases, i64 n, DType from) {
  cases.push_back(
      {"cast", fmt::format("n={} {} -> f32", n, dtype_name(from)), Precision::Exact, [=](std::uint32_t seed) {
         Rng rng(seed);
         // Finite 16-bit patterns: the reference's rounding of spread values.
         std::vector<float> rounded = spread(rng, n);
         Tensor bits = Tensor::empty({n}, from);
         for (i64 i = 0; i < n; ++i) {
           const double r = from == DType::BF16 ? round_bf16(rounded[i]) : round_f16(rounded[i]);
           rounded[i] = std::isinf(r) ? 0.0f : static_cast<float>(r);
           const auto b =
               static_cast<std::uint16_t>(from == DType::BF16 ? bf16_bits(rounded[i]) : f16_bits(rounded[i]));
           std::memcpy(static_cast<char*>(bits.raw()) + 2 * i, &b, 2);
         }
         auto in = share(std::make_pair(bits, rounded));
         Problem pr;
         pr.run = [=](Backend& be) {
           Tensor out = poisoned(be, {n});
           be.cast(out, upload_host(be, in->first));
           return Outputs{read(be, "out", out)};
         };
         pr.reference = [=] { return Outputs{{"out", to_vec(in->second)}}; };
         return pr;
       }});
}

// planted: -1 none, else the index that gets `bad` (inf or NaN). A NaN
// planted in the gradients stays NaN (which no comparison passes), so those
// cases compare the flag alone.
void add_unscale(std::vector<OpCase>& cases, i64 n, float inv_scale, i64 planted, float bad) {
  const std::string variant = planted < 0 ? fmt::format("n={} inv_scale={}", n, inv_scale)
                                          : fmt::format("n={} inv_scale={} {} at {}", n, inv_scale, bad, planted);
  cases.push_back({"unscale_and_check", variant, Precision::Exact, [=](std::uint32_t seed) {
                     Rng rng(seed);
                     std::vector<float> g = rng.uniform(n, -1024.0f, 1024.0f);
                     if (planted >= 0) g[planted] = bad;
                     auto x = share(std::move(g));
                     const bool compare_grads = !std::isnan(bad);
                     Problem pr;
                     pr.run = [=](Backend& be) {
                       Tensor gt = upload(be, *x, {n});
                       Tensor found = upload_ids(be, {-7}, {1});  // "=": must be overwritten with 0 or 1
                       be.unscale_and_check(gt, inv_scale, found);
                       Outputs out{read(be, "found", found)};
                       if (compare_grads) out.push_back(read(be, "grads", gt));
                       return out;
                     };
                     pr.reference = [=] {
                       Vec grads = to_vec(*x);
                       bool any = false;
                       for (double& v : grads) {
                         v = static_cast<double>(static_cast<float>(v * inv_scale));  // one f32 multiply
                         any = any || !std::isfinite(v);
                       }
                       Outputs out{{"found", {any ? 1.0 : 0.0}}};
                       if (compare_grads) out.push_back({"grads", grads});
                       return out;
                     };
                     return pr;
                   }});
}

}  // namespace

void add_precision_cases(std::vector<OpCase>& cases) {
  const i64 lengths[] = {1, 7, 63, 1000, 1023, 63 * 1000};
  for (i64 n : lengths)
    for (Training p : {Training::BF16, Training::FP16})
      for (bool in_place : {false, true}) add_round(cases, n, p, in_place);
  for (i64 n : lengths)
    for (DType t : {DType::BF16, DType::F16}) {
      add_cast_down(cases, n, t);
      add_cast_up(cases, n, t);
    }
  constexpr float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (i64 n : {i64{1}, i64{7}, i64{1023}, i64{63 * 1000}}) {
    for (float s : {1.0f, 1.0f / 1024.0f, 0.75f}) add_unscale(cases, n, s, -1, 0.0f);
    add_unscale(cases, n, 0.5f, n - 1, inf);
    add_unscale(cases, n, 1.0f, 0, -inf);
    add_unscale(cases, n, 0.25f, n / 2, nan);
    add_unscale(cases, n, 1.0f, n - 1, nan);
  }
  // A finite gradient that the multiply pushes past f32's range is found too.
  add_unscale(cases, 7, 4.0f, 3, std::numeric_limits<float>::max());
}

}  // namespace pouch::op_harness
