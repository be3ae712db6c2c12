// The float <-> bf16/fp16 casts of runtime/precision.h: every 16-bit pattern
// round-trips, narrowing matches a brute-force nearest-value search with ties
// to even, the IEEE corner cases (ties, overflow, subnormals, NaN), and bit
// agreement with PyTorch's .to(torch.bfloat16) / .to(torch.float16).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/precision.h"
#include "tests/support/python_oracle.h"

namespace pouch {
namespace {

using Narrow = std::uint16_t (*)(float);
using Widen = float (*)(std::uint16_t);

float from_bits(std::uint32_t u) { return std::bit_cast<float>(u); }
std::uint32_t to_bits(float f) { return std::bit_cast<std::uint32_t>(f); }

bool bf16_is_nan(std::uint16_t h) { return (h & 0x7F80u) == 0x7F80u && (h & 0x7Fu) != 0; }
bool f16_is_nan(std::uint16_t h) { return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0; }

// The value of an fp16 pattern from the IEEE definition, in double.
double f16_value(std::uint16_t h) {
  const int exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  const double sign = (h & 0x8000) != 0 ? -1.0 : 1.0;
  if (exp == 0) return sign * std::ldexp(mant, -24);
  if (exp == 31) return mant == 0 ? sign * std::numeric_limits<double>::infinity() : std::nan("");
  return sign * std::ldexp(1024 + mant, exp - 25);
}

// Round-to-nearest-even by search: the positive finite patterns 0..max_bits
// are increasing in value, so the nearest is one of the two around |x|; on a
// tie the even pattern (mantissa lsb 0) wins. Past max + ulp/2 (a tie that
// goes to the odd max's even neighbour, inf) the result is inf.
struct NearestRef {
  std::vector<double> values;  // values[h] for h in [0, max_bits]
  std::uint16_t inf_bits;

  NearestRef(Widen widen, std::uint16_t max_bits, std::uint16_t inf) : inf_bits(inf) {
    for (std::uint32_t h = 0; h <= max_bits; ++h) values.push_back(widen(static_cast<std::uint16_t>(h)));
  }
  std::uint16_t operator()(float x) const {
    const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    const double a = std::abs(static_cast<double>(x));
    const double max = values.back(), half_ulp = (max - values[values.size() - 2]) / 2;
    if (a >= max + half_ulp) return sign | inf_bits;
    const auto hi = static_cast<std::size_t>(std::lower_bound(values.begin(), values.end(), a) - values.begin());
    if (hi == values.size()) return sign | static_cast<std::uint16_t>(hi - 1);  // in (max, max + ulp/2)
    if (values[hi] == a || hi == 0) return sign | static_cast<std::uint16_t>(hi);
    const std::size_t lo = hi - 1;
    const double dlo = a - values[lo], dhi = values[hi] - a;
    const std::size_t pick = dlo < dhi ? lo : dhi < dlo ? hi : (lo % 2 == 0 ? lo : hi);
    return sign | static_cast<std::uint16_t>(pick);
  }
};

// Random floats spread over every exponent (uniform bit patterns), plus the
// hand-picked edges of both formats.
std::vector<float> test_values(std::size_t random_count) {
  std::vector<float> v;
  std::mt19937 rng(1234);
  std::uniform_int_distribution<std::uint32_t> bits;
  for (std::size_t i = 0; i < random_count; ++i) {
    float f = from_bits(bits(rng));
    if (!std::isnan(f)) v.push_back(f);
  }
  std::uniform_real_distribution<float> normal_range(-4.0f, 4.0f);
  for (std::size_t i = 0; i < random_count / 4; ++i) v.push_back(normal_range(rng));
  const float edges[] = {0.0f,
                         -0.0f,
                         1.0f,
                         -1.0f,
                         65504.0f,
                         65505.0f,
                         65519.99f,
                         65520.0f,
                         65536.0f,
                         1e5f,
                         std::ldexp(1.0f, -14),
                         std::ldexp(1.0f, -24),
                         std::ldexp(1.0f, -25),
                         std::ldexp(3.0f, -25),
                         std::ldexp(1.0f, -26),
                         std::ldexp(1.0f, -126),
                         std::numeric_limits<float>::denorm_min(),
                         std::numeric_limits<float>::max(),
                         -std::numeric_limits<float>::max(),
                         std::numeric_limits<float>::infinity(),
                         -std::numeric_limits<float>::infinity(),
                         1.0f + std::ldexp(1.0f, -8),
                         1.0f + std::ldexp(3.0f, -8),
                         1.0f + std::ldexp(1.0f, -11),
                         1.0f + std::ldexp(3.0f, -11),
                         from_bits(0x7F7F8000u),
                         from_bits(0x7F7F7FFFu),
                         from_bits(0x387FE000u)};
  v.insert(v.end(), std::begin(edges), std::end(edges));
  return v;
}

TEST(Precision, ParsesNamesAndRejectsOthersNamingTheKey) {
  EXPECT_EQ(parse_precision("fp32", "train.precision"), Precision::FP32);
  EXPECT_EQ(parse_precision("bf16", "train.precision"), Precision::BF16);
  EXPECT_EQ(parse_precision("fp16", "train.precision"), Precision::FP16);
  for (Precision p : {Precision::FP32, Precision::BF16, Precision::FP16})
    EXPECT_EQ(parse_precision(precision_name(p), "k"), p);
  try {
    parse_precision("half", "train.precision");
    FAIL() << "accepted \"half\"";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("train.precision"), std::string::npos) << msg;
    EXPECT_NE(msg.find("fp32, bf16 or fp16"), std::string::npos) << msg;
  }
}

TEST(Precision, EveryBf16PatternRoundTrips) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto b = static_cast<std::uint16_t>(h);
    const float f = bf16_to_f32(b);
    EXPECT_EQ(to_bits(f), h << 16);
    if (bf16_is_nan(b)) {
      EXPECT_TRUE(bf16_is_nan(f32_to_bf16(f))) << h;
    } else {
      ASSERT_EQ(f32_to_bf16(f), b) << h;
    }
  }
}

TEST(Precision, EveryF16PatternRoundTripsAndWidensToItsIeeeValue) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto b = static_cast<std::uint16_t>(h);
    const float f = f16_to_f32(b);
    if (f16_is_nan(b)) {
      EXPECT_TRUE(std::isnan(f)) << h;
      EXPECT_TRUE(f16_is_nan(f32_to_f16(f))) << h;
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), f16_value(b)) << h;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << h;
    ASSERT_EQ(f32_to_f16(f), b) << h;
  }
}

TEST(Precision, NarrowingIsNearestTiesToEven) {
  const NearestRef bf16_ref(bf16_to_f32, 0x7F7F, 0x7F80);
  const NearestRef f16_ref(f16_to_f32, 0x7BFF, 0x7C00);
  const auto values = test_values(200000);
  for (float x : values) {
    ASSERT_EQ(f32_to_bf16(x), bf16_ref(x)) << x << " bits " << std::hex << to_bits(x);
    ASSERT_EQ(f32_to_f16(x), f16_ref(x)) << x << " bits " << std::hex << to_bits(x);
  }
  // Every float between two adjacent bf16 values near 1 (all 2^16 low bit patterns).
  for (std::uint32_t low = 0; low < 0x10000u; ++low) {
    const float x = from_bits(0x3F810000u | low);
    ASSERT_EQ(f32_to_bf16(x), bf16_ref(x)) << std::hex << low;
    ASSERT_EQ(f32_to_f16(x), f16_ref(x)) << std::hex << low;
  }
}

TEST(Precision, TiesOverflowSubnormalsAndNan) {
  // bf16 keeps 7 mantissa bits: 1 + 2^-8 is the tie between 1 (even) and 1 + 2^-7.
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(3.0f, -8)), 0x3F82);  // tie between 0x3F81 (odd) and 0x3F82
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3F81);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds past the bf16 max
  EXPECT_EQ(f32_to_bf16(from_bits(0x7F7F7FFFu)), 0x7F7F);
  EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::infinity()), 0xFF80);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::denorm_min()), 0x0000);
  // A NaN whose payload sits only in the dropped bits must stay NaN, not become inf.
  EXPECT_TRUE(bf16_is_nan(f32_to_bf16(from_bits(0x7F800001u))));
  EXPECT_TRUE(bf16_is_nan(f32_to_bf16(from_bits(0xFF800001u))));
  EXPECT_TRUE(bf16_is_nan(f32_to_bf16(std::numeric_limits<float>::quiet_NaN())));

  // fp16: 10 mantissa bits, max 65504, subnormal step 2^-24.
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(3.0f, -11)), 0x3C02);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65519.996f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);  // the tie above the odd max goes to inf
  EXPECT_EQ(f32_to_f16(-1e6f), 0xFC00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);
  EXPECT_EQ(f32_to_f16(std::ldexp(1023.0f, -24)), 0x03FF);  // largest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(2047.0f, -25)), 0x0400);  // tie rounds up into the normals
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // tie between 0 (even) and 2^-24
  EXPECT_EQ(f32_to_f16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // tie between 1 and 2 (even)
  EXPECT_EQ(f32_to_f16(-std::ldexp(1.0f, -30)), 0x8000);
  EXPECT_TRUE(f16_is_nan(f32_to_f16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(f16_is_nan(f32_to_f16(from_bits(0x7F800001u))));
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0xFBFF), -65504.0f);
}

TEST(Precision, BulkCastsAndRoundingMatchTheScalarOnes) {
  // Long enough for the OpenMP path.
  const auto values = test_values(100000);
  const auto n = static_cast<std::int64_t>(values.size());
  for (Precision p : {Precision::BF16, Precision::FP16}) {
    const Narrow one = p == Precision::BF16 ? f32_to_bf16 : f32_to_f16;
    const Widen back = p == Precision::BF16 ? bf16_to_f32 : f16_to_f32;
    std::vector<std::uint16_t> bits(values.size());
    std::vector<float> widened(values.size()), rounded = values;
    narrow(p, values.data(), bits.data(), n);
    widen(p, bits.data(), widened.data(), n);
    round_to_precision(p, rounded.data(), n);
    for (std::size_t i = 0; i < values.size(); ++i) {
      ASSERT_EQ(bits[i], one(values[i])) << precision_name(p) << " " << i;
      ASSERT_EQ(to_bits(widened[i]), to_bits(back(bits[i]))) << precision_name(p) << " " << i;
      ASSERT_EQ(to_bits(rounded[i]), to_bits(widened[i])) << precision_name(p) << " " << i;
      ASSERT_EQ(one(rounded[i]), bits[i]);  // idempotent: already representable
    }
  }
  std::vector<float> same = values;
  round_to_precision(Precision::FP32, same.data(), n);
  EXPECT_EQ(std::memcmp(same.data(), values.data(), values.size() * sizeof(float)), 0);
}

TEST(Precision, AllFiniteFindsAnyInfOrNan) {
  std::vector<float> v(100003, 1.5f);
  EXPECT_TRUE(all_finite(v.data(), static_cast<std::int64_t>(v.size())));
  EXPECT_TRUE(all_finite(v.data(), 0));
  for (float bad : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()}) {
    for (std::size_t at : {std::size_t{0}, std::size_t{77777}, v.size() - 1}) {
      std::vector<float> w = v;
      w[at] = bad;
      EXPECT_FALSE(all_finite(w.data(), static_cast<std::int64_t>(w.size()))) << bad << " at " << at;
    }
  }
  v[5] = std::numeric_limits<float>::max();
  v[6] = std::numeric_limits<float>::denorm_min();
  EXPECT_TRUE(all_finite(v.data(), static_cast<std::int64_t>(v.size())));
}

// The oracle script sits beside this file.
std::filesystem::path oracle_script() { return std::filesystem::path(__FILE__).parent_path() / "precision_oracle.py"; }

TEST(Precision, MatchesTorchBitForBit) {
  constexpr const char* kPython = "/usr/bin/python3";
  POUCH_REQUIRE_PYTHON_MODULES(kPython, "torch, numpy", "python3-torch python3-numpy");
  ASSERT_TRUE(std::filesystem::exists(oracle_script())) << oracle_script();

  const auto values = test_values(6000);
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("pouch-precision-{}", ::getpid());
  std::filesystem::create_directories(dir);
  const auto in = dir / "in.f32", out = dir / "out.u16", log = dir / "log.txt";
  {
    std::ofstream f(in, std::ios::binary);
    f.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
  }
  const int status = std::system(fmt::format("{} '{}' '{}' '{}' >'{}' 2>&1", kPython, oracle_script().string(),
                                             in.string(), out.string(), log.string())
                                     .c_str());
  std::ifstream lf(log);
  const std::string log_text((std::istreambuf_iterator<char>(lf)), std::istreambuf_iterator<char>());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << log_text;
  std::vector<std::uint16_t> torch_bits(2 * values.size());
  {
    std::ifstream f(out, std::ios::binary);
    f.read(reinterpret_cast<char*>(torch_bits.data()), static_cast<std::streamsize>(torch_bits.size() * 2));
    ASSERT_EQ(static_cast<std::size_t>(f.gcount()), torch_bits.size() * 2) << "short oracle output";
  }
  std::filesystem::remove_all(dir);

  int checked = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::uint16_t tb = torch_bits[i], th = torch_bits[values.size() + i];
    ASSERT_EQ(f32_to_bf16(values[i]), tb) << values[i] << " bits " << std::hex << to_bits(values[i]);
    ASSERT_EQ(f32_to_f16(values[i]), th) << values[i] << " bits " << std::hex << to_bits(values[i]);
    ++checked;
  }
  EXPECT_GT(checked, 6000);
}

}  // namespace
}  // namespace pouch
