#include "data/bpe_tokenizer.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "data/bpe_trainer.h"
#include "data/pretokenize.h"
#include "runtime/error.h"

namespace pouch {

namespace {
constexpr const char* kPretokenizer = "gpt2-bytes-v1";

class BpeEncoder final : public TextEncoder {
 public:
  explicit BpeEncoder(const BpeTokenizer& tokenizer) : tokenizer_(tokenizer) {}
  void encode_append(std::string_view text, std::vector<std::int32_t>& out) override {
    // Bounds the cache's memory on a long run of distinct chunks.
    if (cache_.size() > 1'000'000) cache_.clear();
    tokenizer_.encode_append(text, out, &cache_);
  }

 private:
  const BpeTokenizer& tokenizer_;
  BpeChunkCache cache_;
};
}  // namespace

std::unique_ptr<TextEncoder> BpeTokenizer::make_encoder() const { return std::make_unique<BpeEncoder>(*this); }

BpeTokenizer::BpeTokenizer(std::vector<BpePair> merges) : merges_(std::move(merges)) {
  token_bytes_.reserve(256 + merges_.size());
  for (int b = 0; b < 256; ++b) token_bytes_.emplace_back(1, static_cast<char>(b));
  merged_id_.reserve(merges_.size());
  for (std::size_t i = 0; i < merges_.size(); ++i) {
    auto [a, b] = merges_[i];
    const auto id = static_cast<std::int32_t>(256 + i);
    if (a < 0 || b < 0 || a >= id || b >= id)
      fail("bpe tokenizer: merge {} joins ({}, {}), but it may only join ids below {}", i, a, b, id);
    if (!merged_id_.emplace(bpe_pair_key(a, b), id).second)
      fail("bpe tokenizer: merge {} repeats the pair ({}, {})", i, a, b);
    token_bytes_.push_back(token_bytes_[static_cast<std::size_t>(a)] + token_bytes_[static_cast<std::size_t>(b)]);
  }
}

BpeTokenizer BpeTokenizer::train(std::string_view corpus, std::int64_t vocab_size) {
  BpeTrainer trainer;
  trainer.add_text(corpus);
  return trainer.train(vocab_size);
}

void BpeTokenizer::encode_chunk(std::string_view chunk, std::vector<std::int32_t>& out) const {
  std::vector<std::int32_t> ids(chunk.begin(), chunk.end());
  for (auto& id : ids) id = static_cast<unsigned char>(id);
  // Repeatedly apply the lowest-ranked merge present (rank = merged id), to
  // every occurrence left to right, exactly as training applied it.
  while (ids.size() > 1) {
    std::int32_t best = std::numeric_limits<std::int32_t>::max();
    for (std::size_t i = 0; i + 1 < ids.size(); ++i) {
      auto it = merged_id_.find(bpe_pair_key(ids[i], ids[i + 1]));
      if (it != merged_id_.end() && it->second < best) best = it->second;
    }
    if (best == std::numeric_limits<std::int32_t>::max()) break;
    auto [a, b] = merges_[static_cast<std::size_t>(best - 256)];
    std::size_t w = 0;
    for (std::size_t r = 0; r < ids.size(); ++r) {
      if (r + 1 < ids.size() && ids[r] == a && ids[r + 1] == b) {
        ids[w++] = best;
        ++r;
      } else {
        ids[w++] = ids[r];
      }
    }
    ids.resize(w);
  }
  out.insert(out.end(), ids.begin(), ids.end());
}

void BpeTokenizer::encode_append(std::string_view text, std::vector<std::int32_t>& out, BpeChunkCache* cache) const {
  for (std::string_view chunk : pretokenize(text)) {
    if (!cache) {
      encode_chunk(chunk, out);
      continue;
    }
    auto it = cache->find(std::string(chunk));
    if (it == cache->end()) {
      std::vector<std::int32_t> ids;
      encode_chunk(chunk, ids);
      it = cache->emplace(std::string(chunk), std::move(ids)).first;
    }
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
}

std::vector<std::int32_t> BpeTokenizer::encode(std::string_view text) const {
  std::vector<std::int32_t> out;
  out.reserve(text.size() / 3 + 1);
  BpeChunkCache cache;
  encode_append(text, out, &cache);
  return out;
}

std::string BpeTokenizer::decode(std::span<const std::int32_t> ids) const {
  std::string text;
  for (std::int32_t id : ids) {
    if (id == eot_id())
      text += kEndOfText;
    else if (id >= 0 && id < eot_id())
      text += token_bytes_[static_cast<std::size_t>(id)];
    else
      fail("bpe tokenizer: token id {} is outside its vocabulary [0, {})", id, vocab_size());
  }
  return text;
}

std::string BpeTokenizer::serialize() const {
  nlohmann::json j;
  j["type"] = "bpe";
  j["version"] = 1;
  j["pretokenizer"] = kPretokenizer;
  j["eot"] = kEndOfText;
  j["vocab_size"] = vocab_size();
  auto merges = nlohmann::json::array();
  for (auto [a, b] : merges_) merges.push_back({a, b});
  j["merges"] = std::move(merges);
  return j.dump();
}

BpeTokenizer BpeTokenizer::deserialize(const std::string& text, const std::string& what) {
  std::vector<BpePair> merges;
  std::int64_t vocab_size = 0;
  try {
    auto j = nlohmann::json::parse(text);
    if (j.at("type") != "bpe") fail("{}: not a bpe tokenizer", what);
    if (j.at("version") != 1) fail("{}: bpe tokenizer version {} is not supported (1)", what, j.at("version").dump());
    if (j.at("pretokenizer") != kPretokenizer)
      fail("{}: pretokenizer {} is not supported ({})", what, j.at("pretokenizer").dump(), kPretokenizer);
    if (j.at("eot") != kEndOfText) fail("{}: end-of-text token {} is not supported", what, j.at("eot").dump());
    vocab_size = j.at("vocab_size").get<std::int64_t>();
    for (const auto& m : j.at("merges")) {
      if (!m.is_array() || m.size() != 2) fail("{}: merge {} is not a pair of ids", what, merges.size());
      merges.emplace_back(m[0].get<std::int32_t>(), m[1].get<std::int32_t>());
    }
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed bpe tokenizer: {}", what, e.what());
  }
  if (vocab_size != 257 + static_cast<std::int64_t>(merges.size()))
    fail("{}: vocab_size {} does not match 256 bytes + {} merges + end-of-text", what, vocab_size, merges.size());
  try {
    return BpeTokenizer(std::move(merges));
  } catch (const Error& e) {
    fail("{}: {}", what, e.what());
  }
}

}  // namespace pouch
