#pragma once
#include <cstdint>
#include <string>

namespace pouch {

// [data] section.
struct DataConfig {
  // A token shard, or a glob of shards; empty = the built-in reasoning task.
  std::string path;
  // Held-out shards (a path or glob) for validation loss; empty = none, or the
  // built-in task's held-out split when path is empty.
  std::string val_path;
  bool shuffle = true;
  // Built-in reasoning task (used when path is empty).
  std::int64_t task_max_level = 5;           // levels 1..task_max_level
  std::int64_t task_train_samples = 200000;  // generated training samples
  std::int64_t task_eval_per_level = 50;     // held-out problems per level for accuracy
  float task_corrupt_fraction = 0.05f;       // deliberately wrong samples (low quality)
};

}  // namespace pouch
