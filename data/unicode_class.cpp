#include "data/unicode_class.h"

#include <algorithm>
#include <array>
#include <iterator>

namespace pouch {

namespace {

#include "data/unicode_class_table.inc"

// The Basic Multilingual Plane as a flat table (64 KiB), built once; code
// points above it (rare in text) are looked up in the ranges.
const std::array<CharClass, 0x10000>& bmp_table() {
  static const auto table = [] {
    std::array<CharClass, 0x10000> t{};
    for (const UnicodeRange& r : kUnicodeRanges)
      for (char32_t cp = r.first; cp <= r.last && cp < 0x10000; ++cp) t[cp] = r.cls;
    return t;
  }();
  return table;
}

CharClass lookup_ranges(char32_t cp) {
  auto it = std::upper_bound(std::begin(kUnicodeRanges), std::end(kUnicodeRanges), cp,
                             [](char32_t v, const UnicodeRange& r) { return v < r.first; });
  if (it == std::begin(kUnicodeRanges)) return CharClass::Other;
  --it;
  return cp <= it->last ? it->cls : CharClass::Other;
}

}  // namespace

namespace detail {

constexpr std::array<CharClass, 128> make_ascii_class() {
  std::array<CharClass, 128> t{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
      t[c] = CharClass::Letter;
    else if (c >= '0' && c <= '9')
      t[c] = CharClass::Number;
    else if (c == ' ' || (c >= 0x09 && c <= 0x0D))
      t[c] = CharClass::Space;
  }
  return t;
}

const std::array<CharClass, 128> kAsciiClass = make_ascii_class();

// UTF-8 (RFC 3629): lead byte C2..DF + 1 continuation, E0..EF + 2 (no
// overlongs below U+0800, no surrogates D800..DFFF), F0..F4 + 3 (U+10000 ..
// U+10FFFF).
Utf8Unit utf8_unit_slow(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto cont = [&](std::size_t k) { return i + k < s.size() && (at(k) & 0xC0) == 0x80; };
  const unsigned char c = at(0);
  char32_t cp = 0;
  std::uint32_t len = 0;
  if (c >= 0xC2 && c <= 0xDF && cont(1)) {
    cp = (char32_t(c & 0x1F) << 6) | (at(1) & 0x3F);
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2)) {
    cp = (char32_t(c & 0x0F) << 12) | (char32_t(at(1) & 0x3F) << 6) | (at(2) & 0x3F);
    if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) len = 3;
  } else if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    cp = (char32_t(c & 0x07) << 18) | (char32_t(at(1) & 0x3F) << 12) | (char32_t(at(2) & 0x3F) << 6) | (at(3) & 0x3F);
    if (cp >= 0x10000 && cp <= 0x10FFFF) len = 4;
  }
  if (len == 0) return {1, CharClass::Other};
  return {len, unicode_class(cp)};
}

}  // namespace detail

CharClass unicode_class(char32_t cp) {
  if (cp < 0x10000) return bmp_table()[cp];
  return lookup_ranges(cp);
}

}  // namespace pouch
