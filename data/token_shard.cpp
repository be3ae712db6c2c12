#include "data/token_shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "runtime/error.h"

namespace pouch {

static_assert(std::endian::native == std::endian::little, "token shards are little-endian; add byte swapping");

namespace {

std::string errno_text() { return std::strerror(errno); }

// Owns a FILE* for the writer so every error path closes it and removes the temp file.
class TempFile {
 public:
  explicit TempFile(std::string final_path) : final_(std::move(final_path)), temp_(final_ + ".tmp") {
    file_ = std::fopen(temp_.c_str(), "wb");
    if (!file_) fail("cannot create token shard '{}': {}", temp_, errno_text());
  }
  ~TempFile() {
    if (file_) std::fclose(file_);
    if (!committed_) std::remove(temp_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const void* data, std::size_t bytes) {
    if (bytes && std::fwrite(data, 1, bytes, file_) != bytes)
      fail("cannot write token shard '{}': {}", temp_, errno_text());
  }
  void commit() {
    if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0)
      fail("cannot flush token shard '{}': {}", temp_, errno_text());
    int rc = std::fclose(file_);
    file_ = nullptr;
    if (rc != 0) fail("cannot close token shard '{}': {}", temp_, errno_text());
    if (std::rename(temp_.c_str(), final_.c_str()) != 0)
      fail("cannot rename '{}' to '{}': {}", temp_, final_, errno_text());
    committed_ = true;
  }

 private:
  std::string final_, temp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

template <typename T>
void write_tokens(TempFile& out, std::span<const std::int32_t> tokens) {
  constexpr std::size_t kChunk = 1 << 16;
  std::vector<T> buffer;
  buffer.reserve(std::min(kChunk, tokens.size()));
  for (std::size_t begin = 0; begin < tokens.size(); begin += kChunk) {
    std::size_t end = std::min(tokens.size(), begin + kChunk);
    buffer.assign(tokens.begin() + static_cast<std::ptrdiff_t>(begin),
                  tokens.begin() + static_cast<std::ptrdiff_t>(end));
    out.write(buffer.data(), buffer.size() * sizeof(T));
  }
}

}  // namespace

void write_token_shard(const std::string& path, std::span<const std::int32_t> tokens, std::int64_t vocab_size,
                       bool record_vocab) {
  if (vocab_size <= 0 || vocab_size > std::numeric_limits<std::int32_t>::max())
    fail("token shard '{}': vocabulary size {} is out of range (1 .. 2^31-1)", path, vocab_size);
  if (tokens.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
    fail("token shard '{}': {} tokens exceed the format's limit of 2^31-1 per shard; use more shards", path,
         tokens.size());
  for (std::size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab_size)
      fail("token shard '{}': token {} at position {} is outside the vocabulary [0, {})", path, tokens[i], i,
           vocab_size);

  const int version = vocab_size <= 65535 ? 1 : 2;
  std::int32_t header[kShardHeaderInts] = {};
  header[0] = kShardMagic;
  header[1] = version;
  header[2] = static_cast<std::int32_t>(tokens.size());
  header[3] = record_vocab ? static_cast<std::int32_t>(vocab_size) : 0;

  TempFile out(path);
  out.write(header, sizeof(header));
  if (version == 1)
    write_tokens<std::uint16_t>(out, tokens);
  else
    write_tokens<std::uint32_t>(out, tokens);
  out.commit();
}

TokenShard::TokenShard(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open token shard '{}': {}", path, errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    std::string why = errno_text();
    ::close(fd);
    fail("cannot stat token shard '{}': {}", path, why);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("'{}' is not a regular file, so not a token shard", path);
  }
  const auto file_bytes = static_cast<std::int64_t>(st.st_size);
  if (file_bytes < kShardHeaderBytes) {
    ::close(fd);
    fail("token shard '{}' is truncated: {} bytes, shorter than the {}-byte header", path, file_bytes,
         kShardHeaderBytes);
  }
  void* map = ::mmap(nullptr, static_cast<std::size_t>(file_bytes), PROT_READ, MAP_SHARED, fd, 0);
  int map_errno = errno;
  ::close(fd);
  if (map == MAP_FAILED) fail("cannot map token shard '{}': {}", path, std::strerror(map_errno));
  map_ = map;
  map_bytes_ = static_cast<std::size_t>(file_bytes);

  std::int32_t header[kShardHeaderInts];
  std::memcpy(header, map_, sizeof(header));
  // A throwing constructor runs no destructor, so reject() unmaps first.
  auto reject = [&](const std::string& why) {
    unmap();
    throw Error(fmt::format("token shard '{}': {}", path, why));
  };
  if (header[0] != kShardMagic)
    reject(
        fmt::format("bad magic number {} (expected {}); not a token shard in llm.c's format", header[0], kShardMagic));
  if (header[1] != 1 && header[1] != 2)
    reject(fmt::format("unknown version {} (1 = uint16 tokens, 2 = uint32 tokens)", header[1]));
  if (header[2] < 0) reject(fmt::format("negative token count {} in the header", header[2]));
  version_ = header[1];
  size_ = header[2];
  vocab_size_ = std::max<std::int32_t>(header[3], 0);
  const std::int64_t width = version_ == 1 ? 2 : 4;
  const std::int64_t expected = kShardHeaderBytes + size_ * width;
  if (file_bytes < expected)
    reject(fmt::format("truncated: the header says {} tokens ({} bytes with the header) but the file has {} bytes",
                       size_, expected, file_bytes));
  if (file_bytes > expected)
    reject(
        fmt::format("the header says {} tokens ({} bytes with the header) but the file has {} bytes; "
                    "trailing data or a wrong token count",
                    size_, expected, file_bytes));
  tokens_ = static_cast<const unsigned char*>(map_) + kShardHeaderBytes;
}

TokenShard::~TokenShard() { unmap(); }

TokenShard::TokenShard(TokenShard&& other) noexcept { *this = std::move(other); }

TokenShard& TokenShard::operator=(TokenShard&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    map_ = std::exchange(other.map_, nullptr);
    map_bytes_ = std::exchange(other.map_bytes_, 0);
    tokens_ = std::exchange(other.tokens_, nullptr);
    size_ = std::exchange(other.size_, 0);
    version_ = std::exchange(other.version_, 0);
    vocab_size_ = std::exchange(other.vocab_size_, 0);
  }
  return *this;
}

void TokenShard::unmap() {
  if (map_) ::munmap(map_, map_bytes_);
  map_ = nullptr;
  map_bytes_ = 0;
  tokens_ = nullptr;
}

std::int32_t TokenShard::token(std::int64_t i) const {
  POUCH_DCHECK(i >= 0 && i < size_, "token {} of a {}-token shard", i, size_);
  if (version_ == 1) return reinterpret_cast<const std::uint16_t*>(tokens_)[i];
  return static_cast<std::int32_t>(reinterpret_cast<const std::uint32_t*>(tokens_)[i]);
}

void TokenShard::copy(std::int64_t begin, std::int64_t count, std::int32_t* out) const {
  POUCH_CHECK(begin >= 0 && count >= 0 && begin + count <= size_, "range [{}, {}) of '{}' ({} tokens)", begin,
              begin + count, path_, size_);
  if (version_ == 1) {
    const auto* src = reinterpret_cast<const std::uint16_t*>(tokens_) + begin;
    std::copy(src, src + count, out);
  } else {
    const auto* src = reinterpret_cast<const std::uint32_t*>(tokens_) + begin;
    for (std::int64_t i = 0; i < count; ++i) out[i] = static_cast<std::int32_t>(src[i]);
  }
}

std::vector<std::int32_t> TokenShard::read(std::int64_t begin, std::int64_t count) const {
  std::vector<std::int32_t> out(static_cast<std::size_t>(count));
  copy(begin, count, out.data());
  return out;
}

}  // namespace pouch
