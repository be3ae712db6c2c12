#include "data/pretokenize.h"

namespace pouch {

namespace {

enum class ByteClass { Letter, Digit, Space, Other };

ByteClass classify(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return ByteClass::Letter;
  if (c >= '0' && c <= '9') return ByteClass::Digit;
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return ByteClass::Space;
  return ByteClass::Other;
}

ByteClass class_at(std::string_view s, std::size_t i) { return classify(static_cast<unsigned char>(s[i])); }

// Length of the contraction ('s 't 'm 'd 're 've 'll) starting at i, or 0.
std::size_t contraction_length(std::string_view s, std::size_t i) {
  if (s[i] != '\'' || i + 1 >= s.size()) return 0;
  char a = s[i + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 < s.size()) {
    char b = s[i + 2];
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  }
  return 0;
}

}  // namespace

std::vector<std::string_view> pretokenize(std::string_view s) {
  std::vector<std::string_view> chunks;
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    std::size_t start = i;
    if (std::size_t len = contraction_length(s, i)) {
      i += len;
    } else if (class_at(s, i) != ByteClass::Space ||
               (s[i] == ' ' && i + 1 < n && class_at(s, i + 1) != ByteClass::Space)) {
      // ' '? followed by a run of one class.
      if (s[i] == ' ') ++i;
      ByteClass run = class_at(s, i);
      while (i < n && class_at(s, i) == run) ++i;
    } else {
      while (i < n && class_at(s, i) == ByteClass::Space) ++i;
      if (i < n && i - start > 1 && s[i - 1] == ' ') --i;
    }
    chunks.push_back(s.substr(start, i - start));
  }
  return chunks;
}

}  // namespace pouch
