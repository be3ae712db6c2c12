// The watched directory of a continual phase: which files count as complete
// (data/watched_directory.h) and how one is read into tokens or skipped
// (data/watched_file.h).
#include <gtest/gtest.h>

#include <filesystem>

#include "data/char_tokenizer.h"
#include "data/stable_hash.h"
#include "data/token_shard.h"
#include "data/watched_directory.h"
#include "data/watched_file.h"
#include "runtime/error.h"
#include "tests/data/scratch_dir.h"

namespace pouch {
namespace {

namespace fs = std::filesystem;

TEST(WatchedDirectory, RenameProtocolSkipsWorkInProgressAndKnownNames) {
  ScratchDir dir;
  for (const char* name : {"b.txt", "a.jsonl", "c.bin", ".c.txt", "d.tmp", "e.part", "f.partial", "a.jsonl.done"})
    dir.write(name, "1+2=3\n");
  fs::create_directory(dir.file("sub.txt"));
  fs::create_symlink(dir.file("b.txt"), dir.file("link.txt"));
  EXPECT_EQ(list_complete_files(dir.str(), WatchProtocol::Rename, {}),
            (std::vector<std::string>{"a.jsonl", "b.txt", "c.bin", "link.txt"}));
  EXPECT_EQ(list_complete_files(dir.str(), WatchProtocol::Rename, {"b.txt", "c.bin"}),
            (std::vector<std::string>{"a.jsonl", "link.txt"}));
}

TEST(WatchedDirectory, DoneProtocolNeedsTheMarker) {
  ScratchDir dir;
  dir.write("a.txt", "1+2=3\n");
  dir.write("b.txt", "1+2=3\n");
  EXPECT_TRUE(list_complete_files(dir.str(), WatchProtocol::Done, {}).empty());
  dir.write("b.txt.done", "");
  EXPECT_EQ(list_complete_files(dir.str(), WatchProtocol::Done, {}), std::vector<std::string>{"b.txt"});
}

TEST(WatchedDirectory, MissingDirectoryAndUnknownProtocolAreErrors) {
  ScratchDir dir;
  try {
    list_complete_files(dir.file("nope"), WatchProtocol::Rename, {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("watched directory '" + dir.file("nope") + "'"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(parse_watch_protocol("done", "k"), WatchProtocol::Done);
  EXPECT_THROW(parse_watch_protocol("marker", "phase.3.watch_protocol"), Error);
}

TEST(WatchedFile, TextAndJsonLinesBecomeDocumentsWithEndOfText) {
  ScratchDir dir;
  const CharTokenizer tok = CharTokenizer::reasoning();
  const std::string text = "1+2=3\n\n4*5=20\n";
  dir.write("a.txt", text);
  const WatchedFile a = read_watched_file(dir.str(), "a.txt", tok, tok.vocab_size());
  ASSERT_TRUE(a.error.empty()) << a.error;
  EXPECT_EQ(a.documents, 2);
  EXPECT_EQ(a.hash, fnv1a64(text));
  EXPECT_EQ(a.bytes, static_cast<std::int64_t>(text.size()));
  // pouch's own tokenizers put end-of-text after each document.
  std::vector<std::int32_t> want = tok.encode("1+2=3");
  want.push_back(tok.eot_id());
  for (auto id : tok.encode("4*5=20")) want.push_back(id);
  want.push_back(tok.eot_id());
  EXPECT_EQ(a.tokens, want);

  dir.write("b.jsonl", "{\"text\": \"1+2=3\"}\n\n{\"text\": \"4*5=20\"}\n");
  const WatchedFile b = read_watched_file(dir.str(), "b.jsonl", tok, tok.vocab_size());
  ASSERT_TRUE(b.error.empty()) << b.error;
  EXPECT_EQ(b.tokens, want);
}

TEST(WatchedFile, MalformedFilesComeBackWithTheReasonAndNoTokens) {
  ScratchDir dir;
  const CharTokenizer tok = CharTokenizer::reasoning();
  dir.write("bad.jsonl", "{\"text\": \"1+2=3\"}\n{\"text\": \n");
  dir.write("alien.txt", "1+2=3 and some letters outside the alphabet\n");
  dir.write("empty.txt", "\n\n  \n");
  std::vector<std::int32_t> ids = {1, 2, 3, 40};
  write_token_shard(dir.file("big.bin"), ids, 41);
  dir.write("short.bin", "not a shard");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"bad.jsonl", "bad.jsonl:2: bad JSON"},
      {"alien.txt", "alien.txt:1: char tokenizer"},
      {"empty.txt", "no tokens"},
      {"big.bin", "token 40 at position 3 is outside the model's vocabulary of 31"},
      {"short.bin", "short.bin"},
  };
  for (const auto& [name, says] : cases) {
    const WatchedFile f = read_watched_file(dir.str(), name, tok, tok.vocab_size());
    EXPECT_TRUE(f.tokens.empty()) << name;
    EXPECT_NE(f.error.find(says), std::string::npos) << name << ": " << f.error;
  }
}

TEST(WatchedFile, TokenShardsAreTakenAsTheyAre) {
  ScratchDir dir;
  const CharTokenizer tok = CharTokenizer::reasoning();
  const std::vector<std::int32_t> ids = {0, 5, 30, 7, 7};
  write_token_shard(dir.file("s.bin"), ids, tok.vocab_size());
  const WatchedFile f = read_watched_file(dir.str(), "s.bin", tok, tok.vocab_size());
  ASSERT_TRUE(f.error.empty()) << f.error;
  EXPECT_EQ(f.tokens, ids);
  EXPECT_EQ(f.documents, 1);
}

}  // namespace
}  // namespace pouch
