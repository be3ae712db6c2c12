#include "data/gpt2_tokenizer.h"

#include <nlohmann/json.hpp>

#include "data/gpt2_pretokenize.h"
#include "runtime/error.h"

namespace pouch {

namespace {

// Past this many bytes of cached chunks and ids an encoder starts afresh, so
// its cache stays within a few tens of MiB per thread.
constexpr std::size_t kCacheBudgetBytes = 32u << 20;

class Gpt2Encoder final : public TextEncoder {
 public:
  explicit Gpt2Encoder(const Gpt2Tokenizer& tokenizer) : tokenizer_(tokenizer), cache_(1 << 16) {}
  void encode_append(std::string_view text, std::vector<std::int32_t>& out) override {
    if (cache_.arena_bytes() > kCacheBudgetBytes) cache_.clear();
    tokenizer_.encode_append(text, out, &cache_);
  }

 private:
  const Gpt2Tokenizer& tokenizer_;
  StringIdsTable cache_;
};

}  // namespace

Gpt2Tokenizer::Gpt2Tokenizer(Gpt2Vocabulary vocab)
    : tokens_(std::move(vocab.tokens)),
      eot_id_(vocab.eot_id),
      source_(std::move(vocab.source)),
      vocab_(tokens_.size()) {
  if (eot_id_ != static_cast<std::int32_t>(tokens_.size()) || tokens_.size() < 256)
    fail(
        "gpt2 tokenizer ({}): {} tokens and end-of-text id {}: expected the 256 bytes, the merges, then "
        "end-of-text",
        source_, tokens_.size(), eot_id_);
  std::fill(std::begin(byte_id_), std::end(byte_id_), -1);
  for (std::size_t id = 0; id < tokens_.size(); ++id) {
    const std::string& t = tokens_[id];
    const std::uint64_t h = hash_bytes(t);
    if (t.empty() || !vocab_.find(t, h).empty())
      fail("gpt2 tokenizer ({}): token {} is {}", source_, id, t.empty() ? "empty" : "a repeat of an earlier one");
    const auto id32 = static_cast<std::int32_t>(id);
    vocab_.insert(t, h, std::span<const std::int32_t>(&id32, 1));
    if (t.size() == 1) byte_id_[static_cast<unsigned char>(t[0])] = id32;
  }
  for (int b = 0; b < 256; ++b)
    if (byte_id_[b] < 0) fail("gpt2 tokenizer ({}): no token for the byte 0x{:02X}", source_, b);
  // Every cut of every token into two tokens is a pair that merges into it.
  std::size_t pairs = 0;
  for (const std::string& t : tokens_) pairs += t.size() - 1;
  ranks_ = PairRankTable(pairs);
  for (std::size_t id = 0; id < tokens_.size(); ++id) {
    const std::string_view t = tokens_[id];
    for (std::size_t cut = 1; cut < t.size(); ++cut) {
      auto left = vocab_.find(t.substr(0, cut));
      auto right = vocab_.find(t.substr(cut));
      if (!left.empty() && !right.empty()) ranks_.insert(left[0], right[0], static_cast<std::int32_t>(id));
    }
  }
}

void Gpt2Tokenizer::encode_append(std::string_view text, std::vector<std::int32_t>& out, StringIdsTable* cache) const {
  std::vector<std::int32_t> parts;
  gpt2_for_each_chunk(text, [&](std::string_view chunk) {
    const std::uint64_t h = hash_bytes(chunk);
    if (auto id = vocab_.find(chunk, h); !id.empty()) {
      out.push_back(id[0]);
      return;
    }
    if (cache)
      if (auto ids = cache->find(chunk, h); !ids.empty()) {
        out.insert(out.end(), ids.begin(), ids.end());
        return;
      }
    parts.resize(chunk.size());
    for (std::size_t k = 0; k < chunk.size(); ++k) parts[k] = byte_id_[static_cast<unsigned char>(chunk[k])];
    gpt2_merge(parts, ranks_);
    out.insert(out.end(), parts.begin(), parts.end());
    if (cache) cache->insert(chunk, h, parts);
  });
}

std::vector<std::int32_t> Gpt2Tokenizer::encode(std::string_view text) const {
  std::vector<std::int32_t> out;
  out.reserve(text.size() / 4 + 1);
  StringIdsTable cache(1024);
  encode_append(text, out, &cache);
  return out;
}

std::unique_ptr<TextEncoder> Gpt2Tokenizer::make_encoder() const { return std::make_unique<Gpt2Encoder>(*this); }

std::string Gpt2Tokenizer::decode(std::span<const std::int32_t> ids) const {
  std::string text;
  for (std::int32_t id : ids) {
    if (id == eot_id_)
      text += kEndOfText;
    else if (id >= 0 && id < eot_id_)
      text += tokens_[static_cast<std::size_t>(id)];
    else
      fail("gpt2 tokenizer: token id {} is outside its vocabulary [0, {})", id, vocab_size());
  }
  return text;
}

std::string Gpt2Tokenizer::serialize() const {
  nlohmann::json j;
  j["type"] = "gpt2";
  j["version"] = 1;
  j["eot"] = kEndOfText;
  j["vocab_size"] = vocab_size();
  auto tokens = nlohmann::json::array();
  for (const std::string& t : tokens_) tokens.push_back(gpt2_token_text(t));
  j["tokens"] = std::move(tokens);
  return j.dump();
}

Gpt2Tokenizer Gpt2Tokenizer::deserialize(const std::string& text, const std::string& what) {
  Gpt2Vocabulary vocab;
  vocab.source = what;
  try {
    auto j = nlohmann::json::parse(text);
    if (j.at("type") != "gpt2") fail("{}: not a gpt2 tokenizer", what);
    if (j.at("version") != 1) fail("{}: gpt2 tokenizer version {} is not supported (1)", what, j.at("version").dump());
    if (j.at("eot") != kEndOfText) fail("{}: end-of-text token {} is not supported", what, j.at("eot").dump());
    for (const auto& t : j.at("tokens")) vocab.tokens.push_back(gpt2_token_bytes(t.get<std::string>(), what));
    vocab.eot_id = static_cast<std::int32_t>(vocab.tokens.size());
    if (j.at("vocab_size").get<std::int64_t>() != vocab.eot_id + 1)
      fail("{}: vocab_size {} does not match {} tokens + end-of-text", what, j.at("vocab_size").dump(),
           vocab.tokens.size());
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed gpt2 tokenizer: {}", what, e.what());
  }
  return Gpt2Tokenizer(std::move(vocab));
}

}  // namespace pouch
