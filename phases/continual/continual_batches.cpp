#include "phases/continual/continual_batches.h"

#include <cmath>

#include "data/stable_hash.h"
#include "runtime/error.h"
#include "runtime/rng.h"

namespace pouch {

namespace {

// A sampler's seed: one draw of the run seed's stream for (purpose, phase).
std::uint64_t derived_seed(std::uint64_t seed, const char* purpose, std::int64_t phase_index) {
  RngStream rng(seed, derive_stream(purpose, static_cast<std::uint64_t>(phase_index)));
  return rng.next_u64();
}

// Uniform over every sample of levels min..max (no curriculum, no source
// weights, no quality sampling).
SamplingPolicy uniform_policy(std::int64_t min_level, std::int64_t max_level) {
  SamplingPolicy p;
  p.curriculum.kind = PacingKind::None;
  p.curriculum.min_level = static_cast<double>(min_level);
  p.curriculum.max_level = static_cast<double>(max_level);
  return p;
}

}  // namespace

ContinualBatches::ContinualBatches(const ContinualDataConfig& cfg, const TaskCorpus& old_corpus) : cfg_(cfg) {
  POUCH_CHECK(cfg.batch_size > 0 && cfg.grad_accum > 0 && cfg.seq_len > 0, "continual batches: bad shape");
  const std::int64_t replay = std::llround(static_cast<double>(cfg.batch_size) * cfg.replay_ratio);
  new_rows_ = cfg.batch_size - replay;
  // phases/schedule/phase_validation.cpp refuses a replay_ratio that leaves no new rows.
  POUCH_CHECK(new_rows_ >= 1, "replay_ratio {} leaves no new rows of {}", cfg.replay_ratio, cfg.batch_size);

  TaskCorpus fresh =
      build_training_corpus_in_levels(cfg.new_samples, static_cast<int>(cfg.new_level), static_cast<int>(cfg.new_level),
                                      0.0, derived_seed(cfg.seed, "continual.corpus", cfg.phase_index));
  new_ =
      std::make_unique<CurriculumSampler>(std::move(fresh), cfg.seq_len, uniform_policy(cfg.new_level, cfg.new_level),
                                          derived_seed(cfg.seed, "continual.new", cfg.phase_index));
  // The replay and Fisher samplers share one copy of the old tokens.
  auto tokens = std::make_shared<const std::vector<std::int32_t>>(old_corpus.tokens);
  replay_ =
      std::make_unique<CurriculumSampler>(tokens, old_corpus.samples, cfg.seq_len, uniform_policy(1, cfg.old_max_level),
                                          derived_seed(cfg.seed, "continual.replay", cfg.phase_index));
  fisher_ =
      std::make_unique<CurriculumSampler>(tokens, old_corpus.samples, cfg.seq_len, uniform_policy(1, cfg.old_max_level),
                                          derived_seed(cfg.seed, "continual.fisher", cfg.phase_index));
}

std::pair<const CurriculumSampler*, std::int64_t> ContinualBatches::locate(std::int64_t step, std::int64_t micro,
                                                                           std::int64_t row) const {
  POUCH_CHECK(row >= 0 && row < cfg_.batch_size, "row {} outside the batch of {}", row, cfg_.batch_size);
  const std::int64_t c = step * cfg_.grad_accum + micro;
  if (row < new_rows_) return {new_.get(), c * new_rows_ + row};
  return {replay_.get(), c * replay_rows() + (row - new_rows_)};
}

void ContinualBatches::fill(std::int64_t step, std::int64_t micro, std::int64_t first_row, std::int64_t count,
                            std::int32_t* inputs, std::int32_t* targets) const {
  const std::int64_t T = cfg_.seq_len;
  for (std::int64_t b = 0; b < count; ++b) {
    const auto [sampler, index] = locate(step, micro, first_row + b);
    sampler->sequence(index, step, inputs + b * T, targets + b * T);
  }
}

std::vector<int> ContinualBatches::row_levels(std::int64_t step, std::int64_t micro, std::int64_t row) const {
  const auto [sampler, index] = locate(step, micro, row);
  std::vector<int> levels;
  for (std::int64_t k : sampler->sample_indices(index, step))
    levels.push_back(sampler->samples()[static_cast<std::size_t>(k)].level);
  return levels;
}

void ContinualBatches::fill_fisher(std::int64_t batch, std::int64_t first_row, std::int64_t count, std::int32_t* inputs,
                                   std::int32_t* targets) const {
  const std::int64_t T = cfg_.seq_len;
  for (std::int64_t b = 0; b < count; ++b)
    fisher_->sequence(batch * cfg_.batch_size + first_row + b, 0, inputs + b * T, targets + b * T);
}

}  // namespace pouch
