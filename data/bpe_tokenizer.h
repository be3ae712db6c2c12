#pragma once
// Byte-level BPE (Sennrich et al. 2016; byte-level as in GPT-2).
//   ids 0..255            the bytes
//   ids 256..256+M-1      merge i joins the pair merges[i] into id 256 + i
//   id  256+M             the end-of-text token "<|endoftext|>"
// Text is first split by pretokenize(); inside each chunk the merges are
// applied in rank order (lowest first), so any byte string round-trips
// exactly. encode() never produces the end-of-text id: the text
// "<|endoftext|>" is encoded as ordinary bytes; callers append eot_id().
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "data/tokenizer.h"

namespace pouch {

using BpePair = std::pair<std::int32_t, std::int32_t>;
// Chunk -> ids, shared across encode_append() calls to skip repeated chunks.
using BpeChunkCache = std::unordered_map<std::string, std::vector<std::int32_t>>;

class BpeTokenizer final : public Tokenizer {
 public:
  static constexpr std::string_view kEndOfText = "<|endoftext|>";

  // Merge i must join ids below 256 + i.
  explicit BpeTokenizer(std::vector<BpePair> merges);
  // Trains on `corpus` (see BpeTrainer).
  static BpeTokenizer train(std::string_view corpus, std::int64_t vocab_size);
  // From serialize()'s JSON; `what` names the origin in errors.
  static BpeTokenizer deserialize(const std::string& text, const std::string& what);

  std::vector<std::int32_t> encode(std::string_view text) const override;
  // Keeps one BpeChunkCache across calls.
  std::unique_ptr<TextEncoder> make_encoder() const override;
  void encode_append(std::string_view text, std::vector<std::int32_t>& out, BpeChunkCache* cache = nullptr) const;
  std::string decode(std::span<const std::int32_t> ids) const override;
  std::int64_t vocab_size() const override { return 256 + static_cast<std::int64_t>(merges_.size()) + 1; }
  std::int32_t eot_id() const override { return 256 + static_cast<std::int32_t>(merges_.size()); }
  std::string name() const override { return "bpe"; }
  // {"type":"bpe","version":1,"pretokenizer":"gpt2-bytes-v1","eot":"<|endoftext|>",
  //  "vocab_size":V,"merges":[[a,b],...]}
  std::string serialize() const override;

  const std::vector<BpePair>& merges() const { return merges_; }
  // The bytes of a non-special token.
  const std::string& token_bytes(std::int32_t id) const { return token_bytes_[static_cast<std::size_t>(id)]; }

 private:
  void encode_chunk(std::string_view chunk, std::vector<std::int32_t>& out) const;

  std::vector<BpePair> merges_;
  std::unordered_map<std::uint64_t, std::int32_t> merged_id_;  // pair key -> id
  std::vector<std::string> token_bytes_;
};

constexpr std::uint64_t bpe_pair_key(std::int32_t a, std::int32_t b) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
}

}  // namespace pouch
