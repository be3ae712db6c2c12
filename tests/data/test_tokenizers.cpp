#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <map>
#include <string>

#include "data/bpe_trainer.h"
#include "data/char_tokenizer.h"
#include "data/pretokenize.h"
#include "runtime/error.h"
#include "runtime/rng.h"
#include "scratch_dir.h"

namespace pouch {
namespace {

// English-like text: log-uniform (Zipf-like) word frequencies over 5000
// syllable words, numbers, punctuation, paragraphs and some UTF-8 words.
std::string word_of(std::uint64_t id) {
  static const char* syllables[] = {"ka", "to", "re",  "mi",  "san", "lo", "ver", "in", "ga", "ple",
                                    "ti", "on", "bra", "che", "du",  "ü",  "né",  "語", "st", "ed"};
  std::string w;
  do {
    w += syllables[id % 20];
    id /= 20;
  } while (id > 0);
  return w;
}

std::string sample_corpus(int sentences, std::uint64_t seed) {
  RngStream rng(seed, 0);
  std::string text;
  for (int s = 0; s < sentences; ++s) {
    int n = 3 + static_cast<int>(rng.below(10));
    for (int w = 0; w < n; ++w) {
      if (w) text += ' ';
      auto id = static_cast<std::uint64_t>(std::exp(rng.uniform() * std::log(5000.0)));
      text += (w == 0 && rng.below(2)) ? "The" : word_of(id);
      if (rng.below(12) == 0) text += std::to_string(rng.below(100000));
      if (rng.below(10) == 0) text += ',';
    }
    text += rng.below(5) == 0 ? "!\n\n" : ". ";
  }
  return text;
}

TEST(Pretokenize, ChunksConcatenateBackAndSplitLikeGpt2) {
  std::string text = "Hello world, it's 2024!!  Spaces\tand\nnew lines  \n über";
  auto chunks = pretokenize(text);
  std::string joined;
  for (auto c : chunks) joined += c;
  EXPECT_EQ(joined, text);
  std::vector<std::string> got(chunks.begin(), chunks.end());
  std::vector<std::string> want = {"Hello",   " world", ",",   " it", "'s",  " 2024",  "!!",   " ",
                                   " Spaces", "\t",     "and", "\n",  "new", " lines", "  \n", " über"};
  EXPECT_EQ(got, want);
}

TEST(CharTokenizer, ReasoningAlphabetRoundTrip) {
  CharTokenizer tok = CharTokenizer::reasoning();
  EXPECT_LE(tok.vocab_size(), 32);
  EXPECT_EQ(tok.decode(std::vector<std::int32_t>{tok.eot_id()}), "\n");
  const std::string line = "Q: (45-18)*3= <think>45-18=27; 27*3=81</think> <ans>81</ans>\n";
  EXPECT_EQ(tok.decode(tok.encode(line)), line);
  EXPECT_THROW(tok.encode("Q: 1/x"), Error);
  EXPECT_THROW(tok.decode(std::vector<std::int32_t>{static_cast<std::int32_t>(tok.vocab_size())}), Error);

  auto back = tokenizer_from_serialized(tok.serialize());
  EXPECT_EQ(back->name(), "char");
  EXPECT_EQ(back->encode(line), tok.encode(line));
  EXPECT_EQ(back->eot_id(), tok.eot_id());
}

TEST(BpeTokenizer, RoundTripsAnyBytes) {
  BpeTokenizer tok = BpeTokenizer::train(sample_corpus(3000, 1), 600);
  EXPECT_EQ(tok.vocab_size(), 600);
  EXPECT_EQ(tok.eot_id(), 599);
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  const std::vector<std::string> texts = {"",
                                          "the model learns to add numbers",
                                          "Grüße, 世界! naïve café 12345678901234567890",
                                          std::string("nul\0byte and invalid utf-8 \xff\xfe\xc3", 32),
                                          bytes + bytes,
                                          "   leading and trailing   \n\n",
                                          "<|endoftext|> is plain text to encode()"};
  for (const auto& text : texts) {
    auto ids = tok.encode(text);
    for (auto id : ids) {
      EXPECT_GE(id, 0);
      EXPECT_LT(id, tok.eot_id());
    }
    EXPECT_EQ(tok.decode(ids), text);
  }
  EXPECT_EQ(tok.decode(std::vector<std::int32_t>{tok.eot_id()}), "<|endoftext|>");
  EXPECT_THROW(tok.decode(std::vector<std::int32_t>{600}), Error);
}

TEST(BpeTokenizer, CompressesTheTrainingText) {
  const std::string corpus = sample_corpus(3000, 2);
  BpeTokenizer tok = BpeTokenizer::train(corpus, 1000);
  auto ids = tok.encode(corpus);
  EXPECT_LT(ids.size() * 3, corpus.size()) << "fewer than 3 bytes per token";
  // The most frequent word became a single token.
  EXPECT_EQ(tok.encode(" to").size(), 1u);
}

TEST(BpeTokenizer, TrainingIsDeterministicAndTiesAreOrdered) {
  const std::string corpus = sample_corpus(2000, 3);
  BpeTokenizer a = BpeTokenizer::train(corpus, 700);
  BpeTokenizer b = BpeTokenizer::train(corpus, 700);
  EXPECT_EQ(a.merges(), b.merges());
  // "ab" and "cd" both occur 3 times: the tie goes to the smaller pair.
  BpeTokenizer t = BpeTokenizer::train("cd\nab\ncd\nab\ncd\nab", 258);
  ASSERT_EQ(t.merges().size(), 1u);
  EXPECT_EQ(t.merges()[0], (BpePair{'a', 'b'}));
}

TEST(BpeTokenizer, MatchesANaiveRecountTrainer) {
  // Reference: recount every pair of every chunk occurrence before each merge.
  const std::string corpus = sample_corpus(300, 4);
  std::vector<std::vector<std::int32_t>> words;
  for (auto chunk : pretokenize(corpus)) {
    std::vector<std::int32_t> w;
    for (unsigned char c : chunk) w.push_back(c);
    words.push_back(w);
  }
  std::vector<BpePair> merges;
  for (int m = 0; m < 150; ++m) {
    std::map<BpePair, std::int64_t> counts;
    for (const auto& w : words)
      for (std::size_t i = 0; i + 1 < w.size(); ++i) ++counts[{w[i], w[i + 1]}];
    BpePair best{};
    std::int64_t best_count = 1;
    for (const auto& [p, c] : counts)
      if (c > best_count) best = p, best_count = c;
    if (best_count < 2) break;
    const std::int32_t id = 256 + m;
    merges.push_back(best);
    for (auto& w : words) {
      std::vector<std::int32_t> out;
      for (std::size_t i = 0; i < w.size(); ++i) {
        if (i + 1 < w.size() && w[i] == best.first && w[i + 1] == best.second) {
          out.push_back(id);
          ++i;
        } else {
          out.push_back(w[i]);
        }
      }
      w = out;
    }
  }
  BpeTokenizer tok = BpeTokenizer::train(corpus, 257 + 150);
  EXPECT_EQ(tok.merges(), merges);
}

TEST(BpeTokenizer, SaveLoadAndFactory) {
  ScratchDir dir;
  BpeTokenizer tok = BpeTokenizer::train(sample_corpus(1000, 5), 400);
  save_tokenizer(tok, dir.file("tok.json"));
  auto loaded = load_tokenizer(dir.file("tok.json"));
  EXPECT_EQ(loaded->name(), "bpe");
  EXPECT_EQ(loaded->vocab_size(), tok.vocab_size());
  const std::string text = "über 42 kato digits, naïve!";
  EXPECT_EQ(loaded->encode(text), tok.encode(text));
  EXPECT_EQ(loaded->serialize(), tok.serialize());
}

TEST(BpeTokenizer, MalformedFilesAreErrorsNamingThem) {
  ScratchDir dir;
  auto expect_error = [&](const std::string& name, const std::string& content, const std::string& what) {
    const std::string path = dir.write(name, content);
    try {
      load_tokenizer(path);
      ADD_FAILURE() << "no error for " << content;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_error("a.json", "{not json", "bad JSON");
  expect_error("b.json", R"({"type": "wordpiece"})", "unknown tokenizer type");
  expect_error(
      "c.json",
      R"({"type":"bpe","version":1,"pretokenizer":"gpt2-bytes-v1","eot":"<|endoftext|>","vocab_size":258,"merges":[[300,1]]})",
      "merge 0");
  expect_error(
      "d.json",
      R"({"type":"bpe","version":1,"pretokenizer":"gpt2-bytes-v1","eot":"<|endoftext|>","vocab_size":999,"merges":[]})",
      "vocab_size 999");
  EXPECT_THROW(load_tokenizer(dir.file("missing.json")), Error);
}

TEST(BpeTokenizer, TrainsTwoMegabytesInSeconds) {
  const std::string corpus = sample_corpus(60000, 6);  // ~2 MB
  ASSERT_GT(corpus.size(), 1'500'000u);
  auto t0 = std::chrono::steady_clock::now();
  BpeTokenizer tok = BpeTokenizer::train(corpus, 4096);
  double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  t0 = std::chrono::steady_clock::now();
  auto ids = tok.encode(corpus);
  double encode_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("bpe: %.2f MB, vocab %lld: train %.2fs, encode %.2fs (%zu tokens)\n", corpus.size() / 1e6,
              static_cast<long long>(tok.vocab_size()), train_s, encode_s, ids.size());
  EXPECT_LT(train_s, 20.0);
  EXPECT_EQ(tok.decode(ids), corpus);
}

}  // namespace
}  // namespace pouch
