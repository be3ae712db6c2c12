#pragma once
// What a training run reads: the training and validation sequence orders,
// and the tokenizer. Either the built-in reasoning task (data.path empty:
// generated in memory from the seed) or token shards (data.path a file or a
// glob, with tokenizer.json beside them when `pouch data prepare` made them).
#include <cstdint>
#include <memory>
#include <string>

#include "data/char_tokenizer.h"
#include "data/data_config.h"
#include "data/reasoning_task.h"
#include "data/sequence_loader.h"
#include "data/tokenizer.h"

namespace pouch {

struct TrainingData {
  std::unique_ptr<SequenceLoader> train;          // the run's order (data/sequence_loader.h)
  std::unique_ptr<SequenceLoader> val;            // in order, unshuffled; null when there is no validation data
  std::unique_ptr<Tokenizer> tokenizer;           // null when the shards come without one
  const CharTokenizer* task_tokenizer = nullptr;  // the built-in task's, for accuracy evals
  // The built-in task's training corpus with its per-sample metadata (for
  // the curriculum sampler); null for token shards.
  std::shared_ptr<const TaskCorpus> task_corpus;
};

TrainingData open_training_data(const DataConfig& cfg, std::int64_t seq_len, std::uint64_t seed);

}  // namespace pouch
