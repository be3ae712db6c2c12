#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "data/token_shard.h"
#include "runtime/error.h"
#include "scratch_dir.h"

namespace pouch {
namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::int32_t header_int(const std::string& bytes, int i) {
  std::int32_t v;
  std::memcpy(&v, bytes.data() + 4 * i, 4);
  return v;
}

void set_header_int(std::string& bytes, int i, std::int32_t v) { std::memcpy(bytes.data() + 4 * i, &v, 4); }

// The error message must name the file and contain `what`.
void expect_shard_error(const std::string& path, const std::string& what) {
  try {
    TokenShard shard(path);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(TokenShard, RoundTripVersion1) {
  ScratchDir dir;
  std::vector<std::int32_t> tokens = {0, 1, 65534, 300, 7, 50256};
  write_token_shard(dir.file("a.bin"), tokens, 65535);
  const std::string bytes = read_bytes(dir.file("a.bin"));
  ASSERT_EQ(bytes.size(), 1024 + 2 * tokens.size());
  EXPECT_EQ(header_int(bytes, 0), 20240520);
  EXPECT_EQ(header_int(bytes, 1), 1);
  EXPECT_EQ(header_int(bytes, 2), 6);
  EXPECT_FALSE(std::filesystem::exists(dir.file("a.bin.tmp")));

  TokenShard shard(dir.file("a.bin"));
  EXPECT_EQ(shard.version(), 1);
  EXPECT_EQ(shard.size(), 6);
  EXPECT_EQ(shard.vocab_size(), 65535);
  for (std::size_t i = 0; i < tokens.size(); ++i) EXPECT_EQ(shard.token(static_cast<std::int64_t>(i)), tokens[i]);
  EXPECT_EQ(shard.read(2, 3), (std::vector<std::int32_t>{65534, 300, 7}));
}

TEST(TokenShard, RoundTripVersion2) {
  ScratchDir dir;
  std::vector<std::int32_t> tokens = {0, 65535, 65536, 100000, 199999};
  write_token_shard(dir.file("b.bin"), tokens, 200000);
  EXPECT_EQ(read_bytes(dir.file("b.bin")).size(), 1024 + 4 * tokens.size());
  TokenShard shard(dir.file("b.bin"));
  EXPECT_EQ(shard.version(), 2);
  EXPECT_EQ(shard.read(0, shard.size()), tokens);
}

TEST(TokenShard, EmptyShardAndMove) {
  ScratchDir dir;
  write_token_shard(dir.file("e.bin"), {}, 10);
  TokenShard a(dir.file("e.bin"));
  TokenShard b = std::move(a);
  EXPECT_EQ(b.size(), 0);
  EXPECT_EQ(b.path(), dir.file("e.bin"));
}

TEST(TokenShard, WriterRejectsTokensOutsideVocabulary) {
  ScratchDir dir;
  std::vector<std::int32_t> tokens = {1, 2, 10};
  EXPECT_THROW(write_token_shard(dir.file("x.bin"), tokens, 10), Error);
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.bin")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.bin.tmp")));
}

TEST(TokenShard, MalformedFilesNameTheFile) {
  ScratchDir dir;
  std::vector<std::int32_t> tokens(100, 3);
  write_token_shard(dir.file("good.bin"), tokens, 50);
  const std::string good = read_bytes(dir.file("good.bin"));

  std::string bad_magic = good;
  set_header_int(bad_magic, 0, 12345);
  expect_shard_error(dir.write("magic.bin", bad_magic), "magic");

  std::string bad_version = good;
  set_header_int(bad_version, 1, 3);
  expect_shard_error(dir.write("version.bin", bad_version), "version 3");

  expect_shard_error(dir.write("short_header.bin", good.substr(0, 1000)), "truncated");
  expect_shard_error(dir.write("truncated.bin", good.substr(0, good.size() - 2)), "truncated");

  std::string wrong_count = good;
  set_header_int(wrong_count, 2, 99);
  expect_shard_error(dir.write("count.bin", wrong_count), "99 tokens");

  expect_shard_error(dir.file("missing.bin"), "cannot open");
  std::filesystem::create_directories(dir.file("dir.bin"));
  expect_shard_error(dir.file("dir.bin"), "not a regular file");
}

}  // namespace
}  // namespace pouch
