#pragma once
// Evaluation during a run: validation loss on the held-out windows and, on
// the built-in task, exact-answer accuracy per level (phases/common/task_eval.h),
// both split over the data-parallel ranks and summed.
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/gpt.h"
#include "phases/common/task_eval.h"
#include "phases/common/training_data.h"
#include "phases/schedule/run_config.h"
#include "phases/schedule/train_ranks.h"

namespace pouch {

struct EvalResult {
  std::int64_t step = 0;                                       // global step
  double val_loss = std::numeric_limits<double>::quiet_NaN();  // NaN when there is no validation data
  std::vector<LevelAccuracy> levels;                           // built-in task only
};

// Sums `values` over the data-parallel group in place (doubles), in a host
// tensor through the host communicator on any device (`be` is not used by
// that path).
void sum_over_dp(const TrainRanks& ranks, Backend& be, std::vector<double>& values);

// Rows of this rank: sequences first, first + 1, ... of `source`'s order;
// token ids are checked against the model's vocabulary.
void fill_batch(const SequenceLoader& source, std::int64_t first_sequence, std::int64_t vocab, const Tensor& x,
                const Tensor& y);

// Validation loss (x, y: this rank's [B_local, T] batch buffers) and the
// task accuracy of `levels` (empty: 1..data.task_max_level).
EvalResult evaluate(GPT& model, const TrainingData& data, const RunConfig& cfg, const TrainRanks& ranks,
                    std::int64_t step, const Tensor& x, const Tensor& y, const std::vector<int>& levels = {});

// Task accuracy of `levels` only (no validation loss), summed over dp.
std::vector<LevelAccuracy> evaluate_levels(GPT& model, const CharTokenizer& tokenizer, const RunConfig& cfg,
                                           const TrainRanks& ranks, const std::vector<int>& levels);

std::string format_eval(const EvalResult& e);
void add_eval_fields(nlohmann::json& line, const EvalResult& e);

}  // namespace pouch
