#pragma once
// A character-level tokenizer over a fixed alphabet: token id = position of
// the byte in the alphabet. The built-in reasoning task uses
// reasoning_alphabet(), whose '\n' ends every sample.
#include <array>
#include <string>

#include "data/tokenizer.h"

namespace pouch {

class CharTokenizer final : public Tokenizer {
 public:
  // `alphabet`: distinct ASCII bytes; `eot` must be one of them.
  CharTokenizer(std::string alphabet, char eot);
  // The built-in task's tokenizer (reasoning_alphabet(), eot '\n').
  static CharTokenizer reasoning();
  // From serialize()'s JSON; `what` names the origin in errors.
  static CharTokenizer deserialize(const std::string& text, const std::string& what);
  // "\n 0123456789+-*()=Q:;<>/thinkas": 31 symbols, id 0 is '\n'.
  static const std::string& reasoning_alphabet();

  std::vector<std::int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const std::int32_t> ids) const override;
  std::int64_t vocab_size() const override { return static_cast<std::int64_t>(alphabet_.size()); }
  std::int32_t eot_id() const override { return eot_id_; }
  std::string name() const override { return "char"; }
  std::string serialize() const override;

  // -1 when `c` is not in the alphabet.
  std::int32_t id_of(char c) const { return ids_[static_cast<unsigned char>(c)]; }
  const std::string& alphabet() const { return alphabet_; }

 private:
  std::string alphabet_;
  std::array<std::int32_t, 256> ids_{};
  std::int32_t eot_id_ = 0;
};

}  // namespace pouch
