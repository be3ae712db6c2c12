#pragma once
// Training sequences drawn sample by sample under a curriculum, per-source
// epoch weights and quality-score sampling (docs/data-format.md "Curriculum
// sampling"). The alternative to SequenceLoader's fixed windows for corpora
// with per-sample metadata (the built-in task).
//
// Probability of sample i at epoch e under max level L (curriculum.h):
//   P(i) = 0                      if level_i > L   (level 0 = not graded: always eligible)
//        = P(s) * P(i | s)        s = source_i, over the eligible samples E
//   P(s)     ∝ weight(s, e) * |E ∩ s|                       (source_weight_rules.h)
//   P(i | s) = exp(x_i) / sum_{j in E ∩ s} exp(x_j),  x_i = quality_i * (1 + growth * e) / temperature
//              (uniform 1 / |E ∩ s| without quality sampling)
// so with no rules and no quality sampling every eligible sample is equally likely.
//
// Sequence i (the run's global sequence index) at optimizer step `step` (the
// pacing clock): with rng = RngStream(seed, derive_stream("curriculum", i)),
// draw samples k_1, k_2, ... (each: u = 53-bit uniform from rng.next_u64(),
// k = first index whose cumulative probability exceeds u, samples in corpus
// order) and concatenate their tokens until there are T + 1; inputs are the
// first T, targets the same shifted by one. A pure function of (seed, i, step):
// a resumed run needs only the step, and data-parallel ranks can take any
// disjoint indices.
//   epoch_of(i) = floor(i * T / N),   N = total tokens of the samples
// (one epoch reads about as many tokens as the corpus holds).
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/curriculum.h"
#include "data/reasoning_task.h"
#include "data/sample_meta.h"
#include "data/source_weight_rules.h"

namespace pouch {

struct SamplingPolicy {
  CurriculumConfig curriculum;  // validate_curriculum() first, to name the config keys in errors
  SourceWeightRules source_weights;
  bool quality_sampling = false;
  double quality_growth = 0.1;       // >= 0: quality matters more every epoch
  double quality_temperature = 1.0;  // > 0
};

// The distribution at one (epoch, max level), for logging.
struct SamplingSummary {
  std::int64_t epoch = 0;
  int max_level = 0;
  std::int64_t eligible_samples = 0;
  std::vector<std::pair<int, double>> level_share;           // (level, probability), ascending level
  std::vector<std::pair<std::string, double>> source_share;  // (source, probability), sorted by name
  double corrupted_share = 0.0;
  double mean_quality = 0.0;
  // "epoch 0, levels <= 2: 4000 samples; L1 50.0% L2 50.0%; simple 100.0%; corrupted 5.0%; quality 7.8"
  std::string to_string() const;
};

class CurriculumSampler {
 public:
  // `samples` index into `tokens` (offset, length >= 1). Throws pouch::Error on
  // a sample outside the tokens, an empty corpus, a rule naming a source no
  // sample has, quality_temperature <= 0, quality_growth < 0, an invalid
  // curriculum, or when no sample is eligible at step 0.
  CurriculumSampler(std::shared_ptr<const std::vector<std::int32_t>> tokens, std::vector<SampleMeta> samples,
                    std::int64_t seq_len, SamplingPolicy policy, std::uint64_t seed);
  // The built-in task's corpus (build_training_corpus...), moved in.
  CurriculumSampler(TaskCorpus corpus, std::int64_t seq_len, SamplingPolicy policy, std::uint64_t seed);
  ~CurriculumSampler();
  CurriculumSampler(CurriculumSampler&&) noexcept;
  CurriculumSampler& operator=(CurriculumSampler&&) noexcept;

  std::int64_t seq_len() const { return seq_len_; }
  std::int64_t num_samples() const { return static_cast<std::int64_t>(samples_.size()); }
  std::int64_t total_tokens() const { return total_tokens_; }
  const std::vector<SampleMeta>& samples() const { return samples_; }
  const SamplingPolicy& policy() const { return policy_; }

  std::int64_t epoch_of(std::int64_t i) const;
  int max_level_at(std::int64_t step) const { return curriculum_max_level(policy_.curriculum, step); }

  // inputs (T), targets (T) of sequence i >= 0 at optimizer step `step`. Thread-safe.
  void sequence(std::int64_t i, std::int64_t step, std::int32_t* inputs, std::int32_t* targets) const;
  // The samples sequence i concatenates, in order (the last one may be cut).
  std::vector<std::int64_t> sample_indices(std::int64_t i, std::int64_t step) const;

  // P(sample k) for every k at (epoch, max level); sums to 1. Throws
  // pouch::Error when no sample has level <= max_level.
  std::vector<double> probabilities(std::int64_t epoch, int max_level) const;
  SamplingSummary summary(std::int64_t epoch, int max_level) const;

 private:
  struct Distribution;
  struct Cache;
  // Cached per (epoch, max level): a run moves through a few at a time.
  std::shared_ptr<const Distribution> distribution(std::int64_t epoch, int max_level) const;
  std::shared_ptr<const Distribution> build_distribution(std::int64_t epoch, int max_level) const;
  // Calls emit(sample k, window position, first token, count) for each sample
  // sequence i draws, until its T + 1 tokens are filled.
  template <typename Emit>
  void draw(std::int64_t i, std::int64_t step, Emit&& emit) const;

  std::shared_ptr<const std::vector<std::int32_t>> tokens_;
  std::vector<SampleMeta> samples_;
  std::int64_t seq_len_ = 0;
  SamplingPolicy policy_;
  std::uint64_t seed_ = 0;
  std::int64_t total_tokens_ = 0;
  std::vector<std::string> source_names_;  // sorted
  std::vector<std::int32_t> source_of_;    // (samples): index into source_names_
  std::unique_ptr<Cache> cache_;
};

}  // namespace pouch
