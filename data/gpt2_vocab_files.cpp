#include "data/gpt2_vocab_files.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "runtime/error.h"

namespace pouch {

namespace {

constexpr std::string_view kEndOfText = "<|endoftext|>";

const std::array<char32_t, 256>& byte_to_unicode_table() {
  static const auto table = [] {
    std::array<char32_t, 256> t{};
    auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); };
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) t[b] = printable(b) ? static_cast<char32_t>(b) : next++;
    return t;
  }();
  return table;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open GPT-2 vocabulary file '{}': {}", path, std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

char32_t gpt2_byte_to_unicode(unsigned char byte) { return byte_to_unicode_table()[byte]; }

std::string gpt2_token_text(std::string_view bytes) {
  std::string out;
  for (char c : bytes) append_utf8(out, gpt2_byte_to_unicode(static_cast<unsigned char>(c)));
  return out;
}

std::string gpt2_token_bytes(std::string_view s, const std::string& what) {
  static const auto inverse = [] {
    std::unordered_map<char32_t, unsigned char> m;
    for (int b = 0; b < 256; ++b)
      m[gpt2_byte_to_unicode(static_cast<unsigned char>(b))] = static_cast<unsigned char>(b);
    return m;
  }();
  std::string bytes;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    char32_t cp = c;
    std::size_t len = 1;
    if (c >= 0xC0 && c < 0xE0 && i + 1 < s.size()) {
      cp = (char32_t(c & 0x1F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F);
      len = 2;
    } else if (c >= 0xE0 && c < 0xF0 && i + 2 < s.size()) {
      cp = (char32_t(c & 0x0F) << 12) | (char32_t(static_cast<unsigned char>(s[i + 1]) & 0x3F) << 6) |
           (static_cast<unsigned char>(s[i + 2]) & 0x3F);
      len = 3;
    }
    auto it = inverse.find(cp);
    if (it == inverse.end())
      fail("{}: the token {} holds U+{:04X}, which is not in GPT-2's byte-to-unicode alphabet", what,
           nlohmann::json(std::string(s)).dump(), static_cast<std::uint32_t>(cp));
    bytes += static_cast<char>(it->second);
    i += len;
  }
  return bytes;
}

Gpt2Vocabulary read_gpt2_vocabulary(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path d(dir);
  if (!fs::is_directory(d)) fail("--gpt2-files '{}' is not a directory (it should hold encoder.json + vocab.bpe)", dir);
  if (fs::exists(d / "encoder.json") && fs::exists(d / "vocab.bpe"))
    return read_gpt2_vocabulary((d / "encoder.json").string(), (d / "vocab.bpe").string());
  if (fs::exists(d / "vocab.json") && fs::exists(d / "merges.txt"))
    return read_gpt2_vocabulary((d / "vocab.json").string(), (d / "merges.txt").string());
  fail(
      "--gpt2-files '{}' holds neither encoder.json + vocab.bpe (GPT-2's release) nor vocab.json + merges.txt "
      "(Hugging Face's gpt2); put one pair there",
      dir);
}

Gpt2Vocabulary read_gpt2_vocabulary(const std::string& json_path, const std::string& merges_path) {
  nlohmann::json encoder;
  try {
    encoder = nlohmann::json::parse(read_file(json_path));
  } catch (const nlohmann::json::exception& e) {
    fail("GPT-2 vocabulary '{}': bad JSON: {}", json_path, e.what());
  }
  if (!encoder.is_object()) fail("GPT-2 vocabulary '{}': expected a JSON object of token -> id", json_path);

  // Merge i (0-based, in file order) makes the token first + second.
  std::vector<std::string> merged;
  {
    std::istringstream lines(read_file(merges_path));
    std::string line;
    for (std::int64_t lineno = 1; std::getline(lines, line); ++lineno) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || (lineno == 1 && line.starts_with("#version"))) continue;
      const std::size_t space = line.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == line.size() ||
          line.find(' ', space + 1) != std::string::npos)
        fail("GPT-2 merges '{}':{}: expected two tokens separated by one space, got '{}'", merges_path, lineno, line);
      merged.push_back(line.substr(0, space) + line.substr(space + 1));
    }
  }

  Gpt2Vocabulary vocab;
  vocab.source = json_path + " + " + merges_path;
  vocab.eot_id = static_cast<std::int32_t>(256 + merged.size());
  const std::size_t expected = merged.size() + 257;
  if (encoder.size() != expected)
    fail(
        "GPT-2 vocabulary '{}' has {} tokens, but '{}' has {} merges: expected 256 bytes + {} merges + "
        "<|endoftext|> = {}",
        json_path, encoder.size(), merges_path, merged.size(), merged.size(), expected);
  vocab.tokens.assign(static_cast<std::size_t>(vocab.eot_id), std::string());
  std::vector<char> seen(static_cast<std::size_t>(vocab.eot_id), 0);
  for (const auto& [text, id_json] : encoder.items()) {
    if (!id_json.is_number_integer()) fail("GPT-2 vocabulary '{}': the id of {} is not an integer", json_path, text);
    const auto id = id_json.get<std::int64_t>();
    if (text == kEndOfText) {
      if (id != vocab.eot_id)
        fail("GPT-2 vocabulary '{}': <|endoftext|> has id {}, expected {} (after the bytes and merges)", json_path, id,
             vocab.eot_id);
      continue;
    }
    if (id < 0 || id >= vocab.eot_id)
      fail("GPT-2 vocabulary '{}': token {} has id {}, outside 0..{}", json_path, nlohmann::json(text).dump(), id,
           vocab.eot_id - 1);
    const auto k = static_cast<std::size_t>(id);
    if (seen[k]) fail("GPT-2 vocabulary '{}': id {} is given twice", json_path, id);
    seen[k] = 1;
    vocab.tokens[k] = gpt2_token_bytes(text, "GPT-2 vocabulary '" + json_path + "'");
    if (id < 256 ? vocab.tokens[k].size() != 1 : text != merged[k - 256])
      fail("GPT-2 vocabulary '{}': id {} is {}, but {}", json_path, id, nlohmann::json(text).dump(),
           id < 256 ? std::string("ids 0..255 must be the single bytes")
                    : fmt::format("merge {} of '{}' makes {} (ids must follow the merge order)", id - 256, merges_path,
                                  nlohmann::json(merged[k - 256]).dump()));
  }
  if (!encoder.contains(std::string(kEndOfText))) fail("GPT-2 vocabulary '{}' has no <|endoftext|> token", json_path);
  return vocab;
}

}  // namespace pouch
