#pragma once
// `pouch data bench-encode`: tokenizer encoding speed against tiktoken, in
// one run on the same documents. pouch encodes with 1 and 2 threads (fresh
// encoders, so cold caches, every run); tiktoken's `gpt2` encoding runs in 1
// and in 2 concurrent node processes (its npm build has no threads), through
// tests/data/gpt2_reference/reference.js. Prints the median MB/s and the
// range of the runs, and pouch/tiktoken at equal workers.
#include <string>
#include <vector>

namespace pouch {

struct EncodeBenchOptions {
  std::string tokenizer_path;  // a tokenizer.json, or ...
  std::string gpt2_files;      // ... GPT-2's files
  std::vector<std::string> inputs;
  int repeats = 5;
  std::string tiktoken_script;  // empty = pouch only
  std::string node = "node";
  // Fail (exit 1) when pouch's 1-thread median is below this multiple of
  // tiktoken's 1-process median; 0 = report only.
  double min_ratio = 0.0;
};

int run_encode_bench(const EncodeBenchOptions& options);

}  // namespace pouch
