#include "data/tokenizer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/bpe_tokenizer.h"
#include "data/char_tokenizer.h"
#include "data/gpt2_tokenizer.h"
#include "runtime/error.h"

namespace pouch {

std::unique_ptr<Tokenizer> tokenizer_from_serialized(const std::string& text, const std::string& what) {
  std::string type;
  try {
    auto j = nlohmann::json::parse(text);
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
      fail("{}: not a tokenizer (a JSON object with a \"type\" field)", what);
    type = j["type"].get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not a tokenizer: bad JSON: {}", what, e.what());
  }
  if (type == "char") return std::make_unique<CharTokenizer>(CharTokenizer::deserialize(text, what));
  if (type == "bpe") return std::make_unique<BpeTokenizer>(BpeTokenizer::deserialize(text, what));
  if (type == "gpt2") return std::make_unique<Gpt2Tokenizer>(Gpt2Tokenizer::deserialize(text, what));
  fail("{}: unknown tokenizer type '{}' (known: char, bpe, gpt2)", what, type);
}

namespace {
class PlainEncoder final : public TextEncoder {
 public:
  explicit PlainEncoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  void encode_append(std::string_view text, std::vector<std::int32_t>& out) override {
    std::vector<std::int32_t> ids = tokenizer_.encode(text);
    out.insert(out.end(), ids.begin(), ids.end());
  }

 private:
  const Tokenizer& tokenizer_;
};
}  // namespace

std::unique_ptr<TextEncoder> Tokenizer::make_encoder() const { return std::make_unique<PlainEncoder>(*this); }

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open tokenizer file '{}': {}", path, std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return tokenizer_from_serialized(text.str(), fmt::format("tokenizer file '{}'", path));
}

void save_tokenizer(const Tokenizer& tokenizer, const std::string& path) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot create tokenizer file '{}': {}", temp, std::strerror(errno));
    out << tokenizer.serialize() << '\n';
    out.close();
    if (!out) {
      std::remove(temp.c_str());
      fail("cannot write tokenizer file '{}'", temp);
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(temp.c_str());
    fail("cannot rename '{}' to '{}': {}", temp, path, why);
  }
}

}  // namespace pouch
