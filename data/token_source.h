#pragma once
// Read-only tokens in parts: one in-memory vector, or one part per shard of
// a sorted glob. Copies are cheap and share the data.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/token_shard.h"

namespace pouch {

class TokenSource {
 public:
  static TokenSource from_tokens(std::vector<std::int32_t> tokens, std::string name = "in-memory tokens");
  // Every shard matching `pattern` (expand_glob), in sorted order.
  static TokenSource from_glob(const std::string& pattern);

  const std::string& name() const { return name_; }
  std::int64_t num_parts() const;
  std::int64_t part_size(std::int64_t part) const;
  const std::string& part_name(std::int64_t part) const;
  std::int64_t total_tokens() const;
  // Largest vocabulary recorded in the shards' headers; 0 when unknown.
  std::int64_t vocab_size_hint() const;
  // Tokens [begin, begin + count) of `part`.
  void copy(std::int64_t part, std::int64_t begin, std::int64_t count, std::int32_t* out) const;

 private:
  std::string name_;
  std::shared_ptr<const std::vector<std::int32_t>> memory_;
  std::shared_ptr<const std::vector<TokenShard>> shards_;
};

}  // namespace pouch
