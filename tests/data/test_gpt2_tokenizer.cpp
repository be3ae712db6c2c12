// GPT-2's tokenizer on a small hand-made vocabulary: pre-tokenizer cases
// (expected chunks from the pattern run by a regex engine), UTF-8 units and
// Unicode classes, the two merge algorithms, vocabulary files, serialization,
// parallel encoding and prepare's llm.c layout. The comparison with tiktoken
// on the real vocabulary is data.gpt2_vs_tiktoken (gpt2_reference/run.sh).
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "data/char_tokenizer.h"
#include "data/gpt2_bpe_merge.h"
#include "data/gpt2_pretokenize.h"
#include "data/gpt2_tokenizer.h"
#include "data/parallel_encoder.h"
#include "data/prepare.h"
#include "data/progress_bar.h"
#include "data/token_shard.h"
#include "data/unicode_class.h"
#include "runtime/error.h"
#include "scratch_dir.h"

namespace pouch {
namespace {

using Chunks = std::vector<std::string_view>;

TEST(Gpt2Pretokenize, MatchesThePatternOnWhitespaceContractionsAndClasses) {
  // Expected values: the pattern with JavaScript's /u regex engine (the same
  // leftmost-first backtracking semantics), on text without U+0085/U+FEFF,
  // where JavaScript's \s differs from the Rust regex crate's.
  EXPECT_EQ(gpt2_pretokenize("Hello world's   test\n\n  x"),
            (Chunks{"Hello", " world", "'s", "  ", " test", "\n\n ", " x"}));
  EXPECT_EQ(gpt2_pretokenize("a \tb"), (Chunks{"a", " ", "\t", "b"}));
  EXPECT_EQ(gpt2_pretokenize("a\n\nb"), (Chunks{"a", "\n", "\n", "b"}));
  EXPECT_EQ(gpt2_pretokenize("   "), (Chunks{"   "}));
  EXPECT_EQ(gpt2_pretokenize("x  "), (Chunks{"x", "  "}));
  EXPECT_EQ(gpt2_pretokenize("I'll we'VE 'sup ?'s"), (Chunks{"I", "'ll", " we", "'", "VE", " '", "sup", " ?'", "s"}));
  EXPECT_EQ(gpt2_pretokenize("na\u00efve caf\u00e9 123 4567 \u0663\u0664"),
            (Chunks{"na\u00efve", " caf\u00e9", " 123", " 4567", " \u0663\u0664"}));
  EXPECT_EQ(gpt2_pretokenize("a\u00a0b c\u3000 d"), (Chunks{"a", "\u00a0", "b", " c", "\u3000", " d"}));
  EXPECT_EQ(gpt2_pretokenize("e\u0301x"), (Chunks{"e", "\u0301", "x"}));
  EXPECT_EQ(gpt2_pretokenize("...!! ?? a1b2"), (Chunks{"...!!", " ??", " a", "1", "b", "2"}));
  EXPECT_EQ(gpt2_pretokenize("\t\t x\n"), (Chunks{"\t\t", " x", "\n"}));
  EXPECT_EQ(gpt2_pretokenize(" \u2028y"), (Chunks{" ", "\u2028", "y"}));
  EXPECT_TRUE(gpt2_pretokenize("").empty());
}

TEST(Gpt2Pretokenize, InvalidUtf8BytesAreOtherCharacters) {
  // A stray continuation byte, an overlong '/', a surrogate, F5, a truncated
  // sequence: each byte is one Other character, so they run together.
  const std::string bad = "ab\x80\xC0\xAF\xED\xA0\x80\xF5\xE2\x82";
  EXPECT_EQ(gpt2_pretokenize(bad), (Chunks{"ab", "\x80\xC0\xAF\xED\xA0\x80\xF5\xE2\x82"}));
  EXPECT_EQ(utf8_unit_at("\xE2\x82", 0).length, 1u);
  EXPECT_EQ(utf8_unit_at("\xC0\xAF", 0).cls, CharClass::Other);
  EXPECT_EQ(utf8_unit_at("\xF0\x9F\x98\x80", 0).length, 4u);  // U+1F600
  const std::string text = bad + " x\xF0\x9F\x98\x80 1";
  std::string joined;
  for (auto c : gpt2_pretokenize(text)) joined += c;
  EXPECT_EQ(joined, text);
}

TEST(UnicodeClass, CategoriesAndWhiteSpaceOfUnicode16) {
  EXPECT_EQ(unicode_class(U'a'), CharClass::Letter);
  EXPECT_EQ(unicode_class(0x00E9), CharClass::Letter);
  EXPECT_EQ(unicode_class(0x4E2D), CharClass::Letter);   // CJK
  EXPECT_EQ(unicode_class(0x13B76), CharClass::Letter);  // Egyptian hieroglyph, new in 16.0
  EXPECT_EQ(unicode_class(0x0663), CharClass::Number);   // Arabic-Indic three
  EXPECT_EQ(unicode_class(0x216B), CharClass::Number);   // Roman numeral twelve (Nl)
  EXPECT_EQ(unicode_class(0x00B2), CharClass::Number);   // superscript two (No)
  EXPECT_EQ(unicode_class(0x3000), CharClass::Space);
  EXPECT_EQ(unicode_class(0x0085), CharClass::Space);  // White_Space, not in JavaScript's \s
  EXPECT_EQ(unicode_class(0x001F), CharClass::Other);  // Python's isspace() says yes; White_Space no
  EXPECT_EQ(unicode_class(0x200B), CharClass::Other);
  EXPECT_EQ(unicode_class(0xFEFF), CharClass::Other);
  EXPECT_EQ(unicode_class(0x0301), CharClass::Other);  // a combining mark (M)
  EXPECT_EQ(unicode_class(0x1F600), CharClass::Other);
  EXPECT_EQ(unicode_class(0x10FFFF), CharClass::Other);
}

// A toy vocabulary: token i of `tokens` is id i; pairs cover every cut.
PairRankTable ranks_of(const std::vector<std::string>& tokens) {
  std::map<std::string, std::int32_t> id;
  for (std::size_t i = 0; i < tokens.size(); ++i) id[tokens[i]] = static_cast<std::int32_t>(i);
  PairRankTable t(tokens.size() * 8);
  for (std::size_t i = 0; i < tokens.size(); ++i)
    for (std::size_t cut = 1; cut < tokens[i].size(); ++cut) {
      auto a = id.find(tokens[i].substr(0, cut)), b = id.find(tokens[i].substr(cut));
      if (a != id.end() && b != id.end()) t.insert(a->second, b->second, static_cast<std::int32_t>(i));
    }
  return t;
}

TEST(Gpt2Merge, LowestRankFirstLeftmostOnTies) {
  // ids: a=0 b=1 c=2, "bc"=3, "ab"=4, "abc"=5 (reachable as ab+c or a+bc).
  const std::vector<std::string> tokens = {"a", "b", "c", "bc", "ab", "abc", "aa", "aaa"};
  const PairRankTable ranks = ranks_of(tokens);
  std::vector<std::int32_t> ids = {0, 1, 2};  // "abc": bc (3) before ab (4), then a+bc = abc
  gpt2_merge_linear(ids, ranks);
  EXPECT_EQ(ids, (std::vector<std::int32_t>{5}));
  ids = {0, 0, 0, 0};  // "aaaa": leftmost aa first -> aa aa; (aa, aa) is no token
  gpt2_merge_linear(ids, ranks);
  EXPECT_EQ(ids, (std::vector<std::int32_t>{6, 6}));
  ids = {0, 0, 0};  // aa a -> aaa
  gpt2_merge_heap(ids, ranks);
  EXPECT_EQ(ids, (std::vector<std::int32_t>{7}));
}

TEST(Gpt2Merge, HeapAndLinearAgreeOnLongRandomChunks) {
  std::vector<std::string> tokens;
  for (char c = 'a'; c <= 'd'; ++c) tokens.emplace_back(1, c);
  std::mt19937 rng(7);
  std::set<std::string> seen(tokens.begin(), tokens.end());
  while (tokens.size() < 60) {  // random merges of existing tokens, as BPE training makes them
    const std::string t = tokens[rng() % tokens.size()] + tokens[rng() % tokens.size()];
    if (t.size() <= 6 && seen.insert(t).second) tokens.push_back(t);
  }
  const PairRankTable ranks = ranks_of(tokens);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<std::int32_t> ids(1 + rng() % 300);
    for (auto& id : ids) id = static_cast<std::int32_t>(rng() % 4);
    std::vector<std::int32_t> a = ids, b = ids;
    gpt2_merge_linear(a, ranks);
    gpt2_merge_heap(b, ranks);
    ASSERT_EQ(a, b) << "trial " << trial;
    std::string x, y;
    for (auto id : ids) x += tokens[static_cast<std::size_t>(id)];
    for (auto id : a) y += tokens[static_cast<std::size_t>(id)];
    ASSERT_EQ(x, y);
  }
}

// GPT-2-style files for a vocabulary of the 256 bytes (id = byte) and these merges.
const std::vector<std::pair<std::string, std::string>> kMerges = {
    {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"\u0120", "w"}, {"o", "r"}, {"\u0120w", "or"}};

void write_files(ScratchDir& dir, const std::string& json_name, const std::string& merges_name,
                 const std::function<void(nlohmann::json&, std::string&)>& edit = nullptr) {
  nlohmann::json enc = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) enc[gpt2_token_text(std::string(1, static_cast<char>(b)))] = b;
  std::string merges = "#version: 0.2\n";
  for (std::size_t i = 0; i < kMerges.size(); ++i) {
    enc[kMerges[i].first + kMerges[i].second] = 256 + i;
    merges += kMerges[i].first + " " + kMerges[i].second + "\n";
  }
  enc["<|endoftext|>"] = 256 + kMerges.size();
  if (edit) edit(enc, merges);
  dir.write(json_name, enc.dump());
  dir.write(merges_name, merges);
}

TEST(Gpt2Tokenizer, EncodesDecodesAndRoundTripsThroughSerialize) {
  ScratchDir dir;
  write_files(dir, "encoder.json", "vocab.bpe");
  const Gpt2Tokenizer tok = Gpt2Tokenizer::from_files(dir.str());
  EXPECT_EQ(tok.vocab_size(), 264);
  EXPECT_EQ(tok.eot_id(), 263);
  EXPECT_EQ(tok.name(), "gpt2");
  // "hellx" merges to hell + x; " world" to " wor" l d; "hello" is a token.
  const std::vector<std::int32_t> want = {258, 'x', 262, 'l', 'd', 259};
  EXPECT_EQ(tok.encode("hellx world hello").size(), 7u);
  EXPECT_EQ(tok.encode("hellx world"), (std::vector<std::int32_t>(want.begin(), want.begin() + 5)));
  EXPECT_EQ(tok.decode(std::vector<std::int32_t>{258, 'x', 263}), "hellx<|endoftext|>");
  EXPECT_THROW(tok.decode(std::vector<std::int32_t>{264}), Error);
  // encode() treats the end-of-text text as ordinary text.
  for (auto id : tok.encode("a<|endoftext|>b")) EXPECT_NE(id, tok.eot_id());

  const std::string text = "hello world, h\u00e9llo w\xF0\x9F\x98\x80rld\n\n  \xFF\x80 'll";
  auto loaded = tokenizer_from_serialized(tok.serialize());
  EXPECT_EQ(loaded->name(), "gpt2");
  EXPECT_EQ(loaded->encode(text), tok.encode(text));
  EXPECT_EQ(loaded->decode(tok.encode(text)), text);
  auto encoder = loaded->make_encoder();
  std::vector<std::int32_t> ids;
  encoder->encode_append(text, ids);
  encoder->encode_append(text, ids);  // second time from the cache
  std::vector<std::int32_t> twice = tok.encode(text);
  twice.insert(twice.end(), twice.begin(), twice.end());
  EXPECT_EQ(ids, twice);
}

TEST(Gpt2Tokenizer, ReadsHuggingFaceFileNames) {
  ScratchDir dir;
  write_files(dir, "vocab.json", "merges.txt");
  EXPECT_EQ(Gpt2Tokenizer::from_files(dir.str()).encode("hello"), (std::vector<std::int32_t>{259}));
}

std::string load_error(const std::function<void(nlohmann::json&, std::string&)>& edit) {
  ScratchDir dir;
  write_files(dir, "encoder.json", "vocab.bpe", edit);
  try {
    Gpt2Tokenizer::from_files(dir.str());
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Gpt2Tokenizer, InconsistentFilesAreErrorsNamingTheEntry) {
  EXPECT_NE(load_error([](nlohmann::json& e, std::string&) { e["<|endoftext|>"] = 7; }).find("<|endoftext|> has id 7"),
            std::string::npos);
  EXPECT_NE(load_error([](nlohmann::json& e, std::string&) { e.erase("<|endoftext|>"); }).find("has 263 tokens"),
            std::string::npos);
  EXPECT_NE(load_error([](nlohmann::json&, std::string& m) { m += "x y z\n"; }).find("two tokens"), std::string::npos);
  // Ids out of merge order: swap the ids of merges 0 and 1.
  EXPECT_NE(load_error([](nlohmann::json& e, std::string&) {
              e["he"] = 257;
              e["ll"] = 256;
            }).find("ids must follow the merge order"),
            std::string::npos);
  EXPECT_NE(load_error([](nlohmann::json& e, std::string&) { e["\u0100bad\u4e00"] = 300; }).find("tokens"),
            std::string::npos);
  ScratchDir empty;
  try {
    Gpt2Tokenizer::from_files(empty.str());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.json + vocab.bpe"), std::string::npos);
  }
}

TEST(ParallelEncoder, SameIdsInDocumentOrderForAnyThreadCount) {
  ScratchDir dir;
  write_files(dir, "encoder.json", "vocab.bpe");
  const Gpt2Tokenizer tok = Gpt2Tokenizer::from_files(dir.str());
  std::vector<std::string> docs;
  for (int i = 0; i < 50; ++i) docs.push_back(fmt::format("hello {} world{}", i, std::string(i * 37 % 11, ' ')));
  const std::vector<std::string_view> texts(docs.begin(), docs.end());
  std::vector<std::vector<std::int32_t>> one, three;
  ParallelEncoder(tok, 1).encode(texts, one);
  ParallelEncoder(tok, 3).encode(texts, three);
  ASSERT_EQ(one.size(), docs.size());
  EXPECT_EQ(one, three);
  for (std::size_t i = 0; i < docs.size(); ++i) EXPECT_EQ(one[i], tok.encode(docs[i]));
}

TEST(ParallelEncoder, RethrowsTheFirstFailingDocument) {
  const CharTokenizer tok("ab\n", '\n');  // the default encoder: encode() per document
  const std::vector<std::string_view> texts = {"ab", "ba", "b", "axb", "a", "yy", "ab"};
  std::vector<std::vector<std::int32_t>> out;
  std::size_t failed = 99;
  EXPECT_THROW(ParallelEncoder(tok, 2).encode(texts, out, &failed), Error);
  EXPECT_EQ(failed, 3u);
  EXPECT_EQ(out[6], (std::vector<std::int32_t>{0, 1}));  // the others are still encoded
}

TEST(Prepare, Gpt2WritesLlmcLayout) {
  ScratchDir dir;
  write_files(dir, "encoder.json", "vocab.bpe");
  PrepareOptions o;
  o.inputs = {dir.write("a.jsonl", "{\"text\": \"hello\"}\n{\"text\": \"hellx world\"}\n")};
  o.out_dir = dir.file("out");
  o.gpt2_files = dir.str();
  o.val_fraction = 0;
  o.threads = 2;
  const PrepareSummary s = prepare_dataset(o);
  EXPECT_TRUE(s.eot_first);
  TokenShard shard(dir.file("out/train_000000.bin"));
  EXPECT_EQ(shard.version(), 1);
  EXPECT_EQ(shard.vocab_size(), 0);  // header[3] = 0, as llm.c writes it
  EXPECT_EQ(shard.read(0, shard.size()), (std::vector<std::int32_t>{263, 259, 263, 258, 'x', 262, 'l', 'd'}));
  EXPECT_EQ(load_tokenizer(dir.file("out/tokenizer.json"))->name(), "gpt2");
}

TEST(ProgressBar, FormatsFractionRateAndEta) {
  EXPECT_EQ(ProgressBar::format("enc", 50'000'000, 100'000'000, 5.0),
            "enc [##########..........]  50%  50.0/100.0 MB  10.0 MB/s  ETA 5s");
}

}  // namespace
}  // namespace pouch
