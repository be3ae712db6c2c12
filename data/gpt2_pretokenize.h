#pragma once
// GPT-2's pre-tokenizer (Radford et al. 2019, openai/gpt-2 encoder.py; the
// `gpt2` encoding of tiktoken), by hand instead of a regex engine:
//
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// tried left to right at each position, the first alternative that matches
// wins (leftmost-first, greedy). At position i:
//   1. a contraction (ASCII, case-sensitive) is a chunk, whatever follows;
//   2. otherwise a U+0020 followed by a letter, number or other character
//      starts a chunk that takes it and the run of that class after it;
//   3. otherwise a letter, number or other character starts a run of its
//      class;
//   4. otherwise (whitespace) take the whole whitespace run when it reaches
//      the end of the text or is one character long; else all of it but its
//      last character, which `(?!\S)` leaves for the next chunk (a space
//      there then joins the following word by rule 2).
// Classes are those of unicode_class.h; a byte that is not well-formed UTF-8
// is one character of class Other. The chunks concatenate to the text.
#include <string_view>
#include <vector>

#include "data/unicode_class.h"

namespace pouch {

namespace detail {

// The contraction starting at s[i] ('\'' at i), or 0.
inline std::size_t gpt2_contraction_length(std::string_view s, std::size_t i) {
  if (i + 1 >= s.size()) return 0;
  const char a = s[i + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 >= s.size()) return 0;
  const char b = s[i + 2];
  return ((a == 'r' || a == 'v') && b == 'e') || (a == 'l' && b == 'l') ? 3 : 0;
}

// End of the run of class `cls` that starts at `j`.
inline std::size_t gpt2_run_end(std::string_view s, std::size_t j, CharClass cls) {
  while (j < s.size()) {
    const Utf8Unit u = utf8_unit_at(s, j);
    if (u.cls != cls) break;
    j += u.length;
  }
  return j;
}

// The length of the chunk that starts at s[i] (i < s.size()).
inline std::size_t gpt2_chunk_length(std::string_view s, std::size_t i) {
  if (s[i] == '\'')
    if (std::size_t len = gpt2_contraction_length(s, i)) return len;
  const Utf8Unit u = utf8_unit_at(s, i);
  if (u.cls != CharClass::Space) return gpt2_run_end(s, i + u.length, u.cls) - i;
  if (s[i] == ' ' && i + 1 < s.size()) {
    const Utf8Unit next = utf8_unit_at(s, i + 1);
    if (next.cls != CharClass::Space) return gpt2_run_end(s, i + 1 + next.length, next.cls) - i;
  }
  std::size_t j = i + u.length, last = u.length;
  while (j < s.size()) {
    const Utf8Unit w = utf8_unit_at(s, j);
    if (w.cls != CharClass::Space) break;
    j += w.length;
    last = w.length;
  }
  if (j == s.size() || j - i == last) return j - i;
  return j - i - last;
}

}  // namespace detail

// Calls fn(std::string_view chunk) for each chunk of `text`, in order.
template <class Fn>
void gpt2_for_each_chunk(std::string_view text, Fn&& fn) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t len = detail::gpt2_chunk_length(text, i);
    fn(text.substr(i, len));
    i += len;
  }
}

std::vector<std::string_view> gpt2_pretokenize(std::string_view text);

}  // namespace pouch
