#pragma once
// Trains byte-level BPE merges (see bpe_tokenizer.h for the id layout).
//
// add_text() pre-splits text (pretokenize()) and counts each distinct chunk.
// train() then repeats: take the adjacent pair with the highest count, summed
// over distinct chunks weighted by their frequency (ties: the smallest
// (first id, second id)), record it as the next merge, and rewrite only the
// chunks that contain it, updating pair counts incrementally (a lazy max-heap
// of pair counts; stale entries are re-pushed when popped). It stops at the
// requested vocabulary or when no pair occurs at least twice.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "data/bpe_tokenizer.h"

namespace pouch {

class BpeTrainer {
 public:
  void add_text(std::string_view text);
  // vocab_size counts the 256 bytes and the end-of-text token (>= 257).
  BpeTokenizer train(std::int64_t vocab_size) const;
  std::size_t unique_chunks() const { return chunk_counts_.size(); }

 private:
  std::unordered_map<std::string, std::int64_t> chunk_counts_;
};

}  // namespace pouch
