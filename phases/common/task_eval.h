#pragma once
// Exact-answer accuracy on the built-in reasoning task's held-out problems:
// the prompt "Q: 37+58=" is completed greedily until the end-of-sample token,
// and the completion counts when its <ans> holds the right number. Also
// counts completions whose whole format and worked steps are right.
#include <cstdint>
#include <vector>

#include "data/char_tokenizer.h"
#include "model/gpt.h"

namespace pouch {

struct LevelAccuracy {
  int level = 0;
  std::int64_t total = 0;
  std::int64_t correct = 0;      // right answer
  std::int64_t well_formed = 0;  // parses as a sample, whatever the answer
  double accuracy() const { return total > 0 ? static_cast<double>(correct) / static_cast<double>(total) : 0.0; }
};

// Levels min_level..max_level. Evaluates problems i with i % shards == shard
// (data-parallel ranks split the work; the caller sums the counts over them).
std::vector<LevelAccuracy> evaluate_task_accuracy(GPT& model, const CharTokenizer& tokenizer, int min_level,
                                                  int max_level, std::int64_t per_level, std::uint64_t seed,
                                                  int shard = 0, int shards = 1);

// Correct answers over all levels / problems over all levels.
double overall_accuracy(const std::vector<LevelAccuracy>& levels);

}  // namespace pouch
