#pragma once
// GPT-2's tokenizer (Radford et al. 2019), id for id the `gpt2` encoding of
// tiktoken's encode_ordinary():
//   - gpt2_pretokenize.h splits the text into chunks;
//   - a chunk that is itself a token is that token; otherwise its bytes are
//     merged by gpt2_bpe_merge.h (lowest rank first, rank = id);
//   - id 50256, "<|endoftext|>", is never produced by encode() (that text
//     encodes as ordinary text); callers add it between documents.
// The vocabulary comes from GPT-2's files (gpt2_vocab_files.h) or from
// serialize()'s JSON. encode() and encoders from make_encoder() are safe to
// use from several threads at once, one encoder per thread.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/gpt2_bpe_merge.h"
#include "data/gpt2_vocab_files.h"
#include "data/string_ids_table.h"
#include "data/tokenizer.h"

namespace pouch {

class Gpt2Tokenizer final : public Tokenizer {
 public:
  static constexpr std::string_view kEndOfText = "<|endoftext|>";

  explicit Gpt2Tokenizer(Gpt2Vocabulary vocab);
  // From a directory with encoder.json + vocab.bpe or vocab.json + merges.txt.
  static Gpt2Tokenizer from_files(const std::string& dir) { return Gpt2Tokenizer(read_gpt2_vocabulary(dir)); }
  static Gpt2Tokenizer deserialize(const std::string& text, const std::string& what);

  std::vector<std::int32_t> encode(std::string_view text) const override;
  std::unique_ptr<TextEncoder> make_encoder() const override;
  std::string decode(std::span<const std::int32_t> ids) const override;
  std::int64_t vocab_size() const override { return eot_id_ + 1; }
  std::int32_t eot_id() const override { return eot_id_; }
  std::string name() const override { return "gpt2"; }
  // {"type":"gpt2","version":1,"eot":"<|endoftext|>","vocab_size":50257,
  //  "tokens":["!","\"",...]}: tokens[id] in GPT-2's byte-to-unicode spelling.
  std::string serialize() const override;

  const std::string& token_bytes(std::int32_t id) const { return tokens_[static_cast<std::size_t>(id)]; }
  const std::string& source() const { return source_; }

  // Appends the ids of `text`, caching chunk -> ids in `cache` (may be null).
  void encode_append(std::string_view text, std::vector<std::int32_t>& out, StringIdsTable* cache) const;

 private:
  std::vector<std::string> tokens_;  // bytes by id, without end-of-text
  std::int32_t eot_id_ = 0;
  std::string source_;
  std::int32_t byte_id_[256] = {};
  StringIdsTable vocab_;  // bytes -> id
  PairRankTable ranks_;
};

}  // namespace pouch
