#include "data/curriculum_sampler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "data/stable_hash.h"
#include "runtime/error.h"
#include "runtime/rng.h"

namespace pouch {

// The eligible samples at one (epoch, max level) and their probabilities.
struct CurriculumSampler::Distribution {
  std::vector<std::int64_t> sample;  // (E): eligible sample indices, corpus order
  std::vector<double> probability;   // (E): P(sample[k]), sums to 1
  std::vector<double> cdf;           // (E): probability[0] + ... + probability[k]

  std::int64_t pick(double u) const {
    // The first k with cdf[k] > u; u * total stays below the last entry up to
    // rounding, hence the clamp.
    auto it = std::upper_bound(cdf.begin(), cdf.end(), u * cdf.back());
    const auto k = std::min<std::ptrdiff_t>(it - cdf.begin(), static_cast<std::ptrdiff_t>(cdf.size()) - 1);
    return sample[static_cast<std::size_t>(k)];
  }
};

// The most recently used distributions. A run at one step touches one max
// level and at most two epochs (data-parallel ranks straddle a boundary);
// logging may ask for one more.
struct CurriculumSampler::Cache {
  static constexpr std::size_t kEntries = 8;
  struct Entry {
    std::int64_t epoch;
    int max_level;
    std::shared_ptr<const Distribution> dist;
  };
  std::mutex mutex;
  std::vector<Entry> entries;  // most recent last
};

namespace {

// Uniform in [0, 1) with 53 bits: the 24 of RngStream::uniform() would
// quantise the probability of a sample in a corpus of 10^5 or more.
double uniform53(RngStream& rng) { return static_cast<double>(rng.next_u64() >> 11) * 0x1.0p-53; }

}  // namespace

CurriculumSampler::CurriculumSampler(std::shared_ptr<const std::vector<std::int32_t>> tokens,
                                     std::vector<SampleMeta> samples, std::int64_t seq_len, SamplingPolicy policy,
                                     std::uint64_t seed)
    : tokens_(std::move(tokens)),
      samples_(std::move(samples)),
      seq_len_(seq_len),
      policy_(std::move(policy)),
      seed_(seed),
      cache_(std::make_unique<Cache>()) {
  POUCH_CHECK(tokens_ != nullptr);
  if (seq_len_ <= 0) fail("curriculum sampler: sequence length {} must be positive", seq_len_);
  if (samples_.empty()) fail("curriculum sampler: the corpus has no samples");
  if (!(policy_.quality_temperature > 0) || !std::isfinite(policy_.quality_temperature))
    fail("curriculum sampler: quality temperature {} must be > 0", policy_.quality_temperature);
  if (!(policy_.quality_growth >= 0) || !std::isfinite(policy_.quality_growth))
    fail("curriculum sampler: quality growth {} must be >= 0", policy_.quality_growth);
  validate_curriculum(policy_.curriculum, CurriculumKeys::under(""));

  const auto n_tokens = static_cast<std::int64_t>(tokens_->size());
  for (std::size_t k = 0; k < samples_.size(); ++k) {
    const SampleMeta& m = samples_[k];
    if (m.length < 1 || m.offset < 0 || m.offset + m.length > n_tokens)
      fail("curriculum sampler: sample {} (tokens [{}, {})) is empty or outside the {} corpus tokens", k, m.offset,
           m.offset + m.length, n_tokens);
    total_tokens_ += m.length;
  }

  std::map<std::string, std::int32_t> ids;
  for (const auto& m : samples_) ids.emplace(m.source, 0);
  for (auto& [name, id] : ids) {
    id = static_cast<std::int32_t>(source_names_.size());
    source_names_.push_back(name);
  }
  source_of_.reserve(samples_.size());
  for (const auto& m : samples_) source_of_.push_back(ids.at(m.source));
  // A rule for a source no sample has is a typo or a config meant for other data.
  for (const auto& rule : policy_.source_weights.rules())
    if (!ids.count(rule.source)) {
      std::string known;
      for (const auto& name : source_names_) known += (known.empty() ? "'" : ", '") + name + "'";
      fail("{}: rule '{}' names source '{}', which no sample has (sources: {})", policy_.source_weights.key(),
           rule.to_string(), rule.source, known);
    }
  // Fail now, not at the first step, when the curriculum starts below every sample.
  distribution(0, max_level_at(0));
}

CurriculumSampler::CurriculumSampler(TaskCorpus corpus, std::int64_t seq_len, SamplingPolicy policy, std::uint64_t seed)
    : CurriculumSampler(std::make_shared<const std::vector<std::int32_t>>(std::move(corpus.tokens)),
                        std::move(corpus.samples), seq_len, std::move(policy), seed) {}

CurriculumSampler::~CurriculumSampler() = default;
CurriculumSampler::CurriculumSampler(CurriculumSampler&&) noexcept = default;
CurriculumSampler& CurriculumSampler::operator=(CurriculumSampler&&) noexcept = default;

std::int64_t CurriculumSampler::epoch_of(std::int64_t i) const {
  POUCH_CHECK(i >= 0, "negative sequence index {}", i);
  std::int64_t tokens_read = 0;
  POUCH_CHECK(!__builtin_mul_overflow(i, seq_len_, &tokens_read), "sequence index {} overflows", i);
  return tokens_read / total_tokens_;
}

std::shared_ptr<const CurriculumSampler::Distribution> CurriculumSampler::build_distribution(std::int64_t epoch,
                                                                                             int max_level) const {
  auto dist = std::make_shared<Distribution>();
  const std::size_t n_sources = source_names_.size();
  std::vector<std::int64_t> eligible_in(n_sources, 0);
  std::vector<double> max_logit(n_sources, -INFINITY);
  const double scale = (1.0 + policy_.quality_growth * static_cast<double>(epoch)) / policy_.quality_temperature;
  for (std::size_t k = 0; k < samples_.size(); ++k) {
    if (samples_[k].level > max_level) continue;
    dist->sample.push_back(static_cast<std::int64_t>(k));
    const auto s = static_cast<std::size_t>(source_of_[k]);
    ++eligible_in[s];
    max_logit[s] = std::max(max_logit[s], static_cast<double>(samples_[k].quality) * scale);
  }
  if (dist->sample.empty()) {
    std::int32_t lowest = samples_[0].level;
    for (const auto& m : samples_) lowest = std::min(lowest, m.level);
    fail(
        "curriculum sampler: no sample has level <= {} (epoch {}); the corpus's lowest level is {}: raise the "
        "curriculum's min_level to at least {}",
        max_level, epoch, lowest, lowest);
  }
  // P(s) ∝ weight(s, e) * |E ∩ s|.
  std::vector<double> source_p(n_sources, 0.0);
  double source_total = 0.0;
  for (std::size_t s = 0; s < n_sources; ++s) {
    if (eligible_in[s] == 0) continue;
    source_p[s] = policy_.source_weights.weight(source_names_[s], epoch) * static_cast<double>(eligible_in[s]);
    source_total += source_p[s];
  }
  // P(i | s): softmax of the logits, shifted by the source's max for range.
  std::vector<double> within(dist->sample.size());
  std::vector<double> norm(n_sources, 0.0);
  for (std::size_t e = 0; e < dist->sample.size(); ++e) {
    const auto k = static_cast<std::size_t>(dist->sample[e]);
    const auto s = static_cast<std::size_t>(source_of_[k]);
    within[e] =
        policy_.quality_sampling ? std::exp(static_cast<double>(samples_[k].quality) * scale - max_logit[s]) : 1.0;
    norm[s] += within[e];
  }
  dist->probability.resize(dist->sample.size());
  dist->cdf.resize(dist->sample.size());
  double running = 0.0;
  for (std::size_t e = 0; e < dist->sample.size(); ++e) {
    const auto s = static_cast<std::size_t>(source_of_[static_cast<std::size_t>(dist->sample[e])]);
    dist->probability[e] = source_p[s] / source_total * within[e] / norm[s];
    running += dist->probability[e];
    dist->cdf[e] = running;
  }
  return dist;
}

std::shared_ptr<const CurriculumSampler::Distribution> CurriculumSampler::distribution(std::int64_t epoch,
                                                                                       int max_level) const {
  {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    auto& entries = cache_->entries;
    for (std::size_t k = 0; k < entries.size(); ++k)
      if (entries[k].epoch == epoch && entries[k].max_level == max_level) {
        auto found = entries[k];
        entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(k));
        entries.push_back(found);
        return found.dist;
      }
  }
  // Built outside the lock (O(samples)); two threads may both build the same one, which is harmless.
  auto dist = build_distribution(epoch, max_level);
  std::lock_guard<std::mutex> lock(cache_->mutex);
  auto& entries = cache_->entries;
  if (entries.size() == Cache::kEntries) entries.erase(entries.begin());
  entries.push_back({epoch, max_level, dist});
  return dist;
}

template <typename Emit>
void CurriculumSampler::draw(std::int64_t i, std::int64_t step, Emit&& emit) const {
  const auto dist = distribution(epoch_of(i), max_level_at(step));
  RngStream rng(seed_, derive_stream("curriculum", static_cast<std::uint64_t>(i)));
  for (std::int64_t filled = 0; filled < seq_len_ + 1;) {
    const std::int64_t k = dist->pick(uniform53(rng));
    const SampleMeta& m = samples_[static_cast<std::size_t>(k)];
    // The window starts at a uniform position inside its first sample, as a
    // window of the plain token stream does: the model then sees every
    // position of a sample at every position of the context, and the
    // validation loss (over the held-out stream's windows) stays comparable
    // with uniform training.
    const std::int64_t skip =
        filled == 0 ? static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(m.length))) : 0;
    const std::int64_t count = std::min(m.length - skip, seq_len_ + 1 - filled);
    emit(k, filled, m.offset + skip, count);
    filled += count;
  }
}

void CurriculumSampler::sequence(std::int64_t i, std::int64_t step, std::int32_t* inputs, std::int32_t* targets) const {
  const std::int32_t* tokens = tokens_->data();
  // Window position p (0..T) goes to inputs[p] (p < T) and targets[p - 1] (p >= 1).
  draw(i, step, [&](std::int64_t, std::int64_t at, std::int64_t offset, std::int64_t count) {
    for (std::int64_t j = 0; j < count; ++j) {
      const std::int64_t p = at + j;
      const std::int32_t t = tokens[offset + j];
      if (p < seq_len_) inputs[p] = t;
      if (p >= 1) targets[p - 1] = t;
    }
  });
}

std::vector<std::int64_t> CurriculumSampler::sample_indices(std::int64_t i, std::int64_t step) const {
  std::vector<std::int64_t> out;
  draw(i, step, [&](std::int64_t k, std::int64_t, std::int64_t, std::int64_t) { out.push_back(k); });
  return out;
}

std::vector<double> CurriculumSampler::probabilities(std::int64_t epoch, int max_level) const {
  const auto dist = distribution(epoch, max_level);
  std::vector<double> p(samples_.size(), 0.0);
  for (std::size_t e = 0; e < dist->sample.size(); ++e)
    p[static_cast<std::size_t>(dist->sample[e])] = dist->probability[e];
  return p;
}

SamplingSummary CurriculumSampler::summary(std::int64_t epoch, int max_level) const {
  const auto dist = distribution(epoch, max_level);
  SamplingSummary out;
  out.epoch = epoch;
  out.max_level = max_level;
  out.eligible_samples = static_cast<std::int64_t>(dist->sample.size());
  std::map<int, double> levels;
  std::vector<double> sources(source_names_.size(), 0.0);
  for (std::size_t e = 0; e < dist->sample.size(); ++e) {
    const auto k = static_cast<std::size_t>(dist->sample[e]);
    const double p = dist->probability[e];
    levels[samples_[k].level] += p;
    sources[static_cast<std::size_t>(source_of_[k])] += p;
    if (samples_[k].corrupted) out.corrupted_share += p;
    out.mean_quality += p * static_cast<double>(samples_[k].quality);
  }
  out.level_share.assign(levels.begin(), levels.end());
  for (std::size_t s = 0; s < sources.size(); ++s)
    if (sources[s] > 0) out.source_share.emplace_back(source_names_[s], sources[s]);
  return out;
}

std::string SamplingSummary::to_string() const {
  std::string out = fmt::format("epoch {}, levels <= {}: {} samples;", epoch, max_level, eligible_samples);
  for (const auto& [level, p] : level_share) out += fmt::format(" L{} {:.1f}%", level, 100.0 * p);
  out += ";";
  for (const auto& [source, p] : source_share) out += fmt::format(" {} {:.1f}%", source, 100.0 * p);
  out += fmt::format("; corrupted {:.1f}%; quality {:.2f}", 100.0 * corrupted_share, mean_quality);
  return out;
}

}  // namespace pouch
