#include <gtest/gtest.h>

#include <filesystem>

#include "data/doc_table.h"
#include "data/prepare.h"
#include "data/sequence_loader.h"
#include "data/token_shard.h"
#include "data/tokenizer.h"
#include "runtime/error.h"
#include "scratch_dir.h"

namespace pouch {
namespace {

std::string jsonl_input() {
  std::string s;
  for (int i = 0; i < 30; ++i)
    s += fmt::format(
             R"({{"text": "Document {} says héllo to the world, {} times.", "quality": {}, "source": "{}", "id": {}}})",
             i, i * 7, i % 11, i % 2 ? "web" : "books", i) +
         "\n";
  s += "\n";
  s += R"({"text": "no metadata here", "level": 3})"
       "\n";
  s += R"({"text": ""})"
       "\n";
  return s;
}

const char* kTextInput =
    "First document,\nsecond line of it.\n\n\n"
    "Second document.\n  \t\n"
    "Third: numbers 12345 and ünïcödé.\n";

TEST(Prepare, EndToEndOnJsonlAndText) {
  ScratchDir dir;
  PrepareOptions o;
  o.inputs = {dir.write("a.jsonl", jsonl_input()), dir.write("notes.txt", kTextInput)};
  o.out_dir = dir.file("out");
  o.vocab_size = 300;
  o.shard_tokens = 120;
  o.val_fraction = 0.1;
  PrepareSummary s = prepare_dataset(o);
  EXPECT_EQ(s.docs, 34);  // 31 JSONL (one empty skipped) + 3 text
  EXPECT_EQ(s.val_docs, 3);
  EXPECT_EQ(s.train_docs, 31);
  EXPECT_GT(s.train_shards, 1);
  EXPECT_FALSE(format_summary(s, o.out_dir).empty());

  auto tok = load_tokenizer(dir.file("out/tokenizer.json"));
  EXPECT_EQ(tok->vocab_size(), s.vocab_size);
  auto docs = read_doc_table(dir.file("out/docs.tsv"));
  ASSERT_EQ(docs.size(), 34u);

  // Every row decodes back to its document followed by end-of-text.
  std::map<std::string, std::string> text_of_origin;
  std::int64_t train_tokens = 0;
  bool saw_default_source = false, saw_level = false;
  for (const auto& d : docs) {
    TokenShard shard(dir.file("out/" + d.shard));
    EXPECT_LE(shard.size(), 120);
    auto ids = shard.read(d.meta.offset, d.meta.length);
    ASSERT_EQ(ids.back(), tok->eot_id());
    ids.pop_back();
    text_of_origin[d.origin] = tok->decode(ids);
    if (d.split == "train") train_tokens += d.meta.length;
    EXPECT_EQ(d.shard.substr(0, d.split.size()), d.split);
    if (d.meta.source == "a") saw_default_source = true;
    if (d.meta.level == 3) saw_level = true;
  }
  EXPECT_TRUE(saw_default_source);
  EXPECT_TRUE(saw_level);
  EXPECT_EQ(train_tokens, s.train_tokens);
  EXPECT_EQ(text_of_origin[o.inputs[1] + ":1"], "First document,\nsecond line of it.");
  EXPECT_EQ(text_of_origin[o.inputs[1] + ":5"], "Second document.");
  EXPECT_EQ(text_of_origin[o.inputs[1] + ":7"], "Third: numbers 12345 and ünïcödé.");
  EXPECT_EQ(text_of_origin[o.inputs[0] + ":4"], "Document 3 says héllo to the world, 21 times.");
  for (const auto& d : docs)
    if (d.origin == o.inputs[0] + ":4") {
      EXPECT_EQ(d.meta.quality, 3.0f);
      EXPECT_EQ(d.meta.source, "web");
    }

  // The shards feed the sequence loader.
  SequenceLoader loader(TokenSource::from_glob(dir.file("out/train_*.bin")), 16, true, 1);
  EXPECT_GT(loader.num_windows(), 0);

  // An existing output needs --overwrite; the rerun gives the same result.
  EXPECT_THROW(prepare_dataset(o), Error);
  o.overwrite = true;
  PrepareSummary again = prepare_dataset(o);
  EXPECT_EQ(again.train_tokens, s.train_tokens);
  EXPECT_EQ(read_doc_table(dir.file("out/docs.tsv")).size(), docs.size());

  // Reusing the tokenizer gives the same token counts.
  PrepareOptions reuse = o;
  reuse.out_dir = dir.file("out2");
  reuse.tokenizer_path = dir.file("out/tokenizer.json");
  reuse.overwrite = false;
  EXPECT_EQ(prepare_dataset(reuse).train_tokens, s.train_tokens);
}

TEST(Prepare, TextSplitFileMakesOneDocumentPerFile) {
  ScratchDir dir;
  PrepareOptions o;
  o.inputs = {dir.write("one.txt", kTextInput), dir.write("two.txt", "tiny\n\nfile")};
  o.out_dir = dir.file("out");
  o.vocab_size = 260;
  o.val_fraction = 0.0;
  o.defaults.text_split = TextSplit::File;
  PrepareSummary s = prepare_dataset(o);
  EXPECT_EQ(s.docs, 2);
  EXPECT_EQ(s.val_shards, 0);
  EXPECT_FALSE(std::filesystem::exists(dir.file("out/val_000000.bin")));
}

TEST(Prepare, BadInputsNameFileAndLine) {
  ScratchDir dir;
  auto expect_error = [&](const std::string& content, const std::string& what) {
    PrepareOptions o;
    o.inputs = {dir.write("bad.jsonl", content)};
    o.out_dir = dir.file("out");
    o.overwrite = true;
    try {
      prepare_dataset(o);
      ADD_FAILURE() << "no error for " << content;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  const std::string path = dir.file("bad.jsonl");
  expect_error("{\"text\": \"ok\"}\n{\"text\": broken}\n", path + ":2: bad JSON");
  expect_error("{\"text\": \"ok\"}\n\n{\"txt\": \"x\"}\n", path + ":3: missing string field \"text\"");
  expect_error("{\"text\": \"ok\", \"quality\": 11}\n", path + ":1: \"quality\"");
  expect_error("{\"text\": \"ok\", \"source\": \"a\\tb\"}\n", path + ":1: the source tag");
  expect_error("[1, 2]\n", path + ":1: expected a JSON object");

  PrepareOptions missing;
  missing.inputs = {dir.file("nope.txt")};
  missing.out_dir = dir.file("out");
  EXPECT_THROW(prepare_dataset(missing), Error);
  PrepareOptions small_vocab;
  small_vocab.inputs = {dir.write("ok.txt", "hello")};
  small_vocab.out_dir = dir.file("out3");
  small_vocab.vocab_size = 100;
  EXPECT_THROW(prepare_dataset(small_vocab), Error);
}

}  // namespace
}  // namespace pouch
