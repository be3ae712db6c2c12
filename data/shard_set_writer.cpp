#include "data/shard_set_writer.h"

#include <fmt/format.h>

#include "data/token_shard.h"
#include "runtime/error.h"

namespace pouch {

ShardSetWriter::ShardSetWriter(std::string dir, std::string prefix, std::int64_t max_tokens, std::int64_t vocab_size,
                               bool record_vocab)
    : dir_(std::move(dir)),
      prefix_(std::move(prefix)),
      max_tokens_(max_tokens),
      vocab_size_(vocab_size),
      record_vocab_(record_vocab) {
  POUCH_CHECK(max_tokens_ > 0);
}

std::string ShardSetWriter::shard_name(const std::string& prefix, std::int64_t index) {
  return fmt::format("{}_{:06d}.bin", prefix, index);
}

ShardPlacement ShardSetWriter::add(std::span<const std::int32_t> doc) {
  const auto n = static_cast<std::int64_t>(doc.size());
  if (!buffer_.empty() && static_cast<std::int64_t>(buffer_.size()) + n > max_tokens_) flush();
  ShardPlacement placement{shard_name(prefix_, shards_written_), static_cast<std::int64_t>(buffer_.size())};
  buffer_.insert(buffer_.end(), doc.begin(), doc.end());
  return placement;
}

void ShardSetWriter::flush() {
  write_token_shard(dir_ + "/" + shard_name(prefix_, shards_written_), buffer_, vocab_size_, record_vocab_);
  tokens_written_ += static_cast<std::int64_t>(buffer_.size());
  ++shards_written_;
  buffer_.clear();
}

void ShardSetWriter::finish() {
  if (!buffer_.empty()) flush();
}

}  // namespace pouch
