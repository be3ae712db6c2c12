#pragma once
// Packs documents into numbered shards <prefix>_000000.bin, _000001.bin, ...
// in a directory. A document never spans shards: a shard is closed when the
// next document would take it past max_tokens, so a shard holds at most
// max_tokens tokens unless a single document is longer.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace pouch {

struct ShardPlacement {
  std::string shard;  // file name
  std::int64_t offset = 0;
};

class ShardSetWriter {
 public:
  // record_vocab: see write_token_shard().
  ShardSetWriter(std::string dir, std::string prefix, std::int64_t max_tokens, std::int64_t vocab_size,
                 bool record_vocab = true);

  ShardPlacement add(std::span<const std::int32_t> doc);
  // Writes the last, partly filled shard.
  void finish();

  std::int64_t shards_written() const { return shards_written_; }
  std::int64_t tokens_written() const { return tokens_written_; }
  static std::string shard_name(const std::string& prefix, std::int64_t index);

 private:
  void flush();

  std::string dir_, prefix_;
  std::int64_t max_tokens_, vocab_size_;
  bool record_vocab_;
  std::vector<std::int32_t> buffer_;
  std::int64_t shards_written_ = 0, tokens_written_ = 0;
};

}  // namespace pouch
