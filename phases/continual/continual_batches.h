#pragma once
// The training rows of a continual-learning phase (kind = continual): every
// micro-batch of B global rows mixes the new task with replayed old data.
//
//   n_replay = round(B · replay_ratio),  n_new = B − n_replay
//   rows 0 .. n_new − 1       new-level sequences     c·n_new + r
//   rows n_new .. B − 1       replayed old sequences  c·n_replay + (r − n_new)
//   c = step · A + micro      (A = grad_accum; step = in-phase optimizer step)
//
// Each sequence is a CurriculumSampler window (data/curriculum_sampler.h,
// uniform over its corpus), so a row is a pure function of (seed, step,
// micro, row): a resumed phase needs only its step, and a data-parallel rank
// reads its slice d·B/dp .. (d+1)·B/dp − 1 of the same global rows, so the
// batch does not depend on dp.
//
// A third sampler over the old corpus, with its own seed, feeds the EWC
// Fisher estimate (phases/continual/ewc_penalty.h), so that estimate does not reuse
// replay rows.
#include <cstdint>
#include <memory>
#include <vector>

#include "data/curriculum_sampler.h"
#include "data/reasoning_task.h"

namespace pouch {

struct ContinualDataConfig {
  std::int64_t new_level = 6;        // the new task's level (data/arith_problem.h)
  std::int64_t new_samples = 20000;  // generated samples of it
  std::int64_t old_max_level = 5;    // replay draws levels 1..old_max_level of the old corpus
  double replay_ratio = 0.25;        // in [0, 1)
  std::int64_t batch_size = 16;      // B: global rows per micro-batch
  std::int64_t grad_accum = 1;       // A
  std::int64_t seq_len = 128;        // T
  std::uint64_t seed = 0;            // the run's seed; each sampler derives its own
  std::int64_t phase_index = 0;      // mixed into the derived seeds, so two continual phases differ
};

class ContinualBatches {
 public:
  // `old_corpus`: the pre-training task corpus (TrainingData::task_corpus).
  // Generates the new corpus (new_samples of new_level, no corruption).
  ContinualBatches(const ContinualDataConfig& cfg, const TaskCorpus& old_corpus);

  std::int64_t new_rows() const { return new_rows_; }
  std::int64_t replay_rows() const { return cfg_.batch_size - new_rows_; }
  bool is_replay_row(std::int64_t row) const { return row >= new_rows_; }

  // inputs / targets [count, T] (row-major int32) of global rows first_row ..
  // first_row + count − 1 of micro-batch (step, micro).
  void fill(std::int64_t step, std::int64_t micro, std::int64_t first_row, std::int64_t count, std::int32_t* inputs,
            std::int32_t* targets) const;
  // The levels of the samples global row `row` of micro-batch (step, micro)
  // concatenates, in order (for tests and logging).
  std::vector<int> row_levels(std::int64_t step, std::int64_t micro, std::int64_t row) const;

  // Fisher batch `batch` of the old data: rows first_row .. first_row +
  // count − 1 of B global rows (sequence batch·B + row of the Fisher sampler).
  void fill_fisher(std::int64_t batch, std::int64_t first_row, std::int64_t count, std::int32_t* inputs,
                   std::int32_t* targets) const;

  const CurriculumSampler& new_sampler() const { return *new_; }
  const CurriculumSampler& replay_sampler() const { return *replay_; }

 private:
  // (sampler, sequence index) of a global row.
  std::pair<const CurriculumSampler*, std::int64_t> locate(std::int64_t step, std::int64_t micro,
                                                           std::int64_t row) const;

  ContinualDataConfig cfg_;
  std::int64_t new_rows_ = 0;
  std::unique_ptr<CurriculumSampler> new_, replay_, fisher_;
};

}  // namespace pouch
