#pragma once
// The character classes GPT-2's pre-tokenizer pattern distinguishes:
// \p{L} (general category L), \p{N} (category N), \s (the White_Space
// property, as in the Rust regex crate tiktoken uses) and everything else.
// Tables: Unicode 16.0, the version of the regex tables in the tiktoken
// build the reference test compares with (unicode_class_table.inc, generated
// by data/tools/gen_unicode_classes.js).
#include <array>
#include <cstdint>
#include <string_view>

namespace pouch {

enum class CharClass : std::uint8_t { Other, Letter, Number, Space };

struct UnicodeRange {
  char32_t first, last;
  CharClass cls;
};

CharClass unicode_class(char32_t cp);

// One unit of UTF-8 text: a well-formed sequence, or a single byte that does
// not start one (a stray continuation byte, an overlong form, a surrogate,
// a value above U+10FFFF, a truncated sequence), which is class Other.
struct Utf8Unit {
  std::uint32_t length;  // bytes, 1..4
  CharClass cls;
};

// The unit at s[i] (i < s.size()).
inline Utf8Unit utf8_unit_at(std::string_view s, std::size_t i);

namespace detail {
extern const std::array<CharClass, 128> kAsciiClass;
Utf8Unit utf8_unit_slow(std::string_view s, std::size_t i);
}  // namespace detail

inline Utf8Unit utf8_unit_at(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return {1, detail::kAsciiClass[c]};
  return detail::utf8_unit_slow(s, i);
}

}  // namespace pouch
