#include "phases/common/training_data.h"

#include <fmt/format.h>

#include <filesystem>

#include "data/reasoning_task.h"
#include "runtime/log.h"

namespace pouch {

namespace {

// Held-out samples for validation loss: one clean sample per 50 training
// samples, enough windows for the trainer's validation batches.
std::int64_t held_out_samples(const DataConfig& cfg) {
  return std::max<std::int64_t>(2000, cfg.task_train_samples / 50);
}

TrainingData open_builtin_task(const DataConfig& cfg, std::int64_t seq_len, std::uint64_t seed) {
  TrainingData data;
  const int max_level = static_cast<int>(cfg.task_max_level);
  TaskCorpus corpus = build_training_corpus(cfg.task_train_samples, max_level, cfg.task_corrupt_fraction, seed);
  const std::string name = fmt::format("built-in reasoning task ({} samples, levels 1-{}, {:.0f}% corrupted)",
                                       cfg.task_train_samples, max_level, 100.0 * cfg.task_corrupt_fraction);
  data.task_corpus = std::make_shared<const TaskCorpus>(corpus);
  data.train = std::make_unique<SequenceLoader>(TokenSource::from_tokens(std::move(corpus.tokens), name), seq_len,
                                                cfg.shuffle, seed);
  TaskCorpus held_out = build_held_out_corpus(held_out_samples(cfg), max_level, seed);
  data.val = std::make_unique<SequenceLoader>(
      TokenSource::from_tokens(std::move(held_out.tokens), "built-in reasoning task, held-out split"), seq_len, false,
      seed);
  auto tokenizer = std::make_unique<CharTokenizer>(CharTokenizer::reasoning());
  data.task_tokenizer = tokenizer.get();
  data.tokenizer = std::move(tokenizer);
  return data;
}

}  // namespace

TrainingData open_training_data(const DataConfig& cfg, std::int64_t seq_len, std::uint64_t seed) {
  if (cfg.path.empty()) return open_builtin_task(cfg, seq_len, seed);
  TrainingData data;
  TokenSource train = TokenSource::from_glob(cfg.path);
  // `pouch data prepare` writes tokenizer.json beside the shards.
  const auto tokenizer_path = std::filesystem::path(train.part_name(0)).parent_path() / "tokenizer.json";
  if (std::filesystem::exists(tokenizer_path)) {
    data.tokenizer = load_tokenizer(tokenizer_path.string());
  } else {
    log_warn("no tokenizer.json beside {}: the saved model will carry no tokenizer", train.part_name(0));
  }
  data.train = std::make_unique<SequenceLoader>(std::move(train), seq_len, cfg.shuffle, seed);
  if (!cfg.val_path.empty())
    data.val = std::make_unique<SequenceLoader>(TokenSource::from_glob(cfg.val_path), seq_len, false, seed);
  return data;
}

}  // namespace pouch
