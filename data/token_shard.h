#pragma once
// Token shards in llm.c's format (karpathy/llm.c, dev/data/data_common.py):
//
//   header: 256 little-endian int32
//     [0]  magic 20240520
//     [1]  version: 1 = tokens are uint16, 2 = tokens are uint32
//     [2]  number of tokens N
//     [3]  pouch extension: vocabulary size, 0 = not recorded (llm.c writes 0)
//     rest zero
//   then N tokens of the version's width.
//
// The file size must be exactly 1024 + N * width bytes.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace pouch {

inline constexpr std::int32_t kShardMagic = 20240520;
inline constexpr std::int64_t kShardHeaderInts = 256;
inline constexpr std::int64_t kShardHeaderBytes = kShardHeaderInts * 4;

// Writes `tokens` (each in [0, vocab_size)) as a version-1 shard when
// vocab_size <= 65535, else version 2. Writes `path`.tmp, syncs it, then
// renames it to `path`, so a reader never sees a half-written shard. With
// record_vocab false, header[3] stays 0: the file is then byte for byte what
// llm.c's write_datafile() writes for the same tokens.
void write_token_shard(const std::string& path, std::span<const std::int32_t> tokens, std::int64_t vocab_size,
                       bool record_vocab = true);

// A memory-mapped, validated, read-only shard.
class TokenShard {
 public:
  TokenShard() = default;
  // Maps and validates `path`; a malformed file throws pouch::Error naming it.
  explicit TokenShard(const std::string& path);
  ~TokenShard();
  TokenShard(TokenShard&& other) noexcept;
  TokenShard& operator=(TokenShard&& other) noexcept;
  TokenShard(const TokenShard&) = delete;
  TokenShard& operator=(const TokenShard&) = delete;

  const std::string& path() const { return path_; }
  std::int64_t size() const { return size_; }
  int version() const { return version_; }
  // header[3]; 0 when the writer did not record it.
  std::int64_t vocab_size() const { return vocab_size_; }

  std::int32_t token(std::int64_t i) const;
  // Tokens [begin, begin + count) as int32 into out.
  void copy(std::int64_t begin, std::int64_t count, std::int32_t* out) const;
  std::vector<std::int32_t> read(std::int64_t begin, std::int64_t count) const;

 private:
  void unmap();

  std::string path_;
  void* map_ = nullptr;
  std::size_t map_bytes_ = 0;
  const unsigned char* tokens_ = nullptr;
  std::int64_t size_ = 0;
  int version_ = 0;
  std::int64_t vocab_size_ = 0;
};

}  // namespace pouch
