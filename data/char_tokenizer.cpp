#include "data/char_tokenizer.h"

#include <nlohmann/json.hpp>

#include "runtime/error.h"

namespace pouch {

namespace {

std::string printable(unsigned char c) {
  if (c >= 0x20 && c < 0x7f) return fmt::format("'{}' (0x{:02x})", static_cast<char>(c), c);
  return fmt::format("byte 0x{:02x}", c);
}

}  // namespace

CharTokenizer::CharTokenizer(std::string alphabet, char eot) : alphabet_(std::move(alphabet)) {
  if (alphabet_.empty()) fail("char tokenizer: the alphabet is empty");
  ids_.fill(-1);
  for (std::size_t i = 0; i < alphabet_.size(); ++i) {
    auto c = static_cast<unsigned char>(alphabet_[i]);
    if (c >= 0x80) fail("char tokenizer: {} in the alphabet is not ASCII", printable(c));
    if (ids_[c] >= 0) fail("char tokenizer: {} appears twice in the alphabet", printable(c));
    ids_[c] = static_cast<std::int32_t>(i);
  }
  eot_id_ = id_of(eot);
  if (eot_id_ < 0) fail("char tokenizer: the end-of-sample {} is not in the alphabet", printable(eot));
}

const std::string& CharTokenizer::reasoning_alphabet() {
  static const std::string alphabet = "\n 0123456789+-*()=Q:;<>/thinkas";
  return alphabet;
}

CharTokenizer CharTokenizer::reasoning() { return CharTokenizer(reasoning_alphabet(), '\n'); }

std::vector<std::int32_t> CharTokenizer::encode(std::string_view text) const {
  std::vector<std::int32_t> ids(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    std::int32_t id = id_of(text[i]);
    if (id < 0)
      fail("char tokenizer: {} at byte {} of the text is not in its alphabet",
           printable(static_cast<unsigned char>(text[i])), i);
    ids[i] = id;
  }
  return ids;
}

std::string CharTokenizer::decode(std::span<const std::int32_t> ids) const {
  std::string text(ids.size(), '\0');
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size())
      fail("char tokenizer: token id {} is outside its vocabulary [0, {})", ids[i], vocab_size());
    text[i] = alphabet_[static_cast<std::size_t>(ids[i])];
  }
  return text;
}

std::string CharTokenizer::serialize() const {
  nlohmann::json j;
  j["type"] = "char";
  j["version"] = 1;
  j["alphabet"] = alphabet_;
  j["eot"] = std::string(1, alphabet_[static_cast<std::size_t>(eot_id_)]);
  return j.dump();
}

CharTokenizer CharTokenizer::deserialize(const std::string& text, const std::string& what) {
  try {
    auto j = nlohmann::json::parse(text);
    if (j.at("type") != "char") fail("{}: not a char tokenizer", what);
    if (j.at("version") != 1) fail("{}: char tokenizer version {} is not supported (1)", what, j.at("version").dump());
    auto eot = j.at("eot").get<std::string>();
    if (eot.size() != 1) fail("{}: \"eot\" must be one character", what);
    return CharTokenizer(j.at("alphabet").get<std::string>(), eot[0]);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed char tokenizer: {}", what, e.what());
  } catch (const Error& e) {
    if (std::string_view(e.what()).starts_with(what)) throw;
    fail("{}: {}", what, e.what());
  }
}

}  // namespace pouch
