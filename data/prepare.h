#pragma once
// `pouch data prepare`: text and JSONL inputs -> a data directory of
//   tokenizer.json                 the tokenizer (tokenizer.h)
//   train_000000.bin, ...          token shards (token_shard.h)
//   val_000000.bin, ...            (only when some documents are held out)
//   docs.tsv                       one row per document (doc_table.h)
// Every document ends with the tokenizer's end-of-text token, except with
// GPT-2's tokenizer, which writes llm.c's layout: each document *starts* with
// end-of-text (50256) and header[3] stays 0, so a shard is byte for byte what
// llm.c's data scripts write for the same documents. Two passes over the
// inputs: the first counts documents and trains the BPE tokenizer (on all
// documents), the second encodes (on `threads` threads) and writes.
#include <cstdint>
#include <string>
#include <vector>

#include "data/document_reader.h"

namespace pouch {

struct PrepareOptions {
  std::vector<std::string> inputs;
  std::string out_dir;
  // Train a byte-level BPE tokenizer of this vocabulary (>= 257) ...
  std::int64_t vocab_size = 4096;
  // ... unless this names a tokenizer file to use instead, ...
  std::string tokenizer_path;
  // ... or this a directory with GPT-2's encoder.json + vocab.bpe (or
  // vocab.json + merges.txt): use GPT-2's tokenizer.
  std::string gpt2_files;
  // Encoding threads; 0 = all cores.
  int threads = 0;
  // Inputs of at least this many bytes show a progress bar on stderr.
  std::int64_t progress_min_bytes = 16 << 20;
  std::int64_t shard_tokens = 100'000'000;
  // Documents held out for validation: round(val_fraction * docs), at least
  // one when val_fraction > 0 and there are two or more documents, chosen
  // uniformly by RngStream(seed, derive_stream("prepare.val", 0)).
  double val_fraction = 0.01;
  std::uint64_t seed = 1337;
  DocumentDefaults defaults;
  // Replace the outputs of an earlier run in out_dir instead of failing.
  bool overwrite = false;
};

struct PrepareSummary {
  std::int64_t docs = 0, train_docs = 0, val_docs = 0;
  std::int64_t train_tokens = 0, val_tokens = 0;
  std::int64_t train_shards = 0, val_shards = 0;
  std::int64_t vocab_size = 0;
  std::string tokenizer;   // e.g. "bpe, trained" or "bpe, from tok.json"
  bool eot_first = false;  // llm.c's layout (GPT-2): end-of-text before each document
  std::int64_t text_bytes = 0;
  int threads = 1;
  double tokenizer_seconds = 0.0, encode_seconds = 0.0, total_seconds = 0.0;
};

PrepareSummary prepare_dataset(const PrepareOptions& options);
std::string format_summary(const PrepareSummary& summary, const std::string& out_dir);

}  // namespace pouch
