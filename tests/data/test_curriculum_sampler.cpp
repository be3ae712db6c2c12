#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "data/curriculum_sampler.h"
#include "data/reasoning_task.h"
#include "runtime/error.h"

namespace pouch {
namespace {

// A synthetic corpus: sample k is `length` copies of token k (so a token
// names its sample), with the given level, source and quality.
struct Spec {
  int level;
  const char* source;
  float quality;
};

std::shared_ptr<const std::vector<std::int32_t>> synthetic(const std::vector<Spec>& specs, std::int64_t length,
                                                           std::vector<SampleMeta>& metas) {
  auto tokens = std::make_shared<std::vector<std::int32_t>>();
  for (std::size_t k = 0; k < specs.size(); ++k) {
    SampleMeta m;
    m.offset = static_cast<std::int64_t>(tokens->size());
    m.length = length;
    m.level = specs[k].level;
    m.source = specs[k].source;
    m.quality = specs[k].quality;
    m.corrupted = specs[k].quality < 4;
    tokens->insert(tokens->end(), static_cast<std::size_t>(length), static_cast<std::int32_t>(k));
    metas.push_back(m);
  }
  return tokens;
}

const std::vector<Spec> kSpecs = {
    {1, "a", 9}, {1, "a", 2}, {1, "b", 7}, {1, "b", 7}, {1, "b", 1}, {2, "a", 10},
    {2, "c", 5}, {2, "c", 8}, {3, "a", 6}, {3, "b", 3}, {3, "c", 9}, {0, "c", 4},  // level 0: not graded
};

// The documented formula, written out independently of the sampler.
std::vector<double> expected_probabilities(const std::vector<SampleMeta>& samples, const SamplingPolicy& policy,
                                           std::int64_t epoch, int max_level) {
  std::map<std::string, double> count, norm;
  const double scale = (1 + policy.quality_growth * static_cast<double>(epoch)) / policy.quality_temperature;
  auto within = [&](const SampleMeta& m) { return policy.quality_sampling ? std::exp(m.quality * scale) : 1.0; };
  for (const auto& m : samples)
    if (m.level <= max_level) {
      count[m.source] += 1;
      norm[m.source] += within(m);
    }
  double total = 0;
  for (const auto& [s, n] : count) total += policy.source_weights.weight(s, epoch) * n;
  std::vector<double> p;
  for (const auto& m : samples)
    p.push_back(m.level > max_level ? 0.0
                                    : policy.source_weights.weight(m.source, epoch) * count[m.source] / total *
                                          within(m) / norm[m.source]);
  return p;
}

// Pearson's chi-square of counts against probabilities (zero-probability cells must be empty).
double chi_square(const std::vector<std::int64_t>& counts, const std::vector<double>& p, std::int64_t n) {
  double chi = 0;
  for (std::size_t k = 0; k < p.size(); ++k) {
    if (p[k] == 0) {
      EXPECT_EQ(counts[k], 0) << "sample " << k << " has probability 0";
      continue;
    }
    const double e = p[k] * static_cast<double>(n);
    chi += (static_cast<double>(counts[k]) - e) * (static_cast<double>(counts[k]) - e) / e;
  }
  return chi;
}

SamplingPolicy policy_with(PacingKind kind, std::vector<std::int64_t> boundaries, double max_level) {
  SamplingPolicy p;
  p.curriculum.kind = kind;
  p.curriculum.min_level = 1;
  p.curriculum.max_level = max_level;
  p.curriculum.boundaries = std::move(boundaries);
  return p;
}

TEST(CurriculumSampler, DrawsFollowTheFormula) {
  // Samples of 100000 tokens and T = 8: a sequence draws one sample (two
  // when it starts in the last T tokens of the first) and an epoch (N / T
  // sequences) holds 150000 of them. The first draw of each is counted.
  std::vector<SampleMeta> metas;
  auto tokens = synthetic(kSpecs, 100000, metas);
  SamplingPolicy policy = policy_with(PacingKind::FixedDiscrete, {100, 200}, 3);
  policy.source_weights = SourceWeightRules::parse("a*3@epoch<2; c*0.25@epoch>=2; b*2", "k");
  policy.quality_sampling = true;
  policy.quality_growth = 0.5;
  policy.quality_temperature = 4;
  const std::int64_t T = 8;
  CurriculumSampler sampler(tokens, metas, T, policy, 99);
  const std::int64_t per_epoch = 1200000 / T;
  EXPECT_EQ(sampler.epoch_of(per_epoch - 1), 0);
  EXPECT_EQ(sampler.epoch_of(per_epoch), 1);

  struct Case {
    std::int64_t epoch, step;
    int level;
  };
  for (const Case& c : {Case{0, 0, 1}, Case{0, 150, 2}, Case{3, 500, 3}}) {
    ASSERT_EQ(sampler.max_level_at(c.step), c.level);
    const auto p = expected_probabilities(metas, policy, c.epoch, c.level);
    const auto got = sampler.probabilities(c.epoch, c.level);
    ASSERT_EQ(got.size(), p.size());
    for (std::size_t k = 0; k < p.size(); ++k) EXPECT_NEAR(got[k], p[k], 1e-12) << k;
    std::vector<std::int64_t> counts(p.size(), 0);
    const std::int64_t n = 120000;
    for (std::int64_t i = c.epoch * per_epoch; i < c.epoch * per_epoch + n; ++i) {
      auto drawn = sampler.sample_indices(i, c.step);
      ASSERT_GE(drawn.size(), 1u);
      ++counts[static_cast<std::size_t>(drawn[0])];
    }
    // 12 cells, at most 11 degrees of freedom: P(chi2 > 45) < 1e-5.
    EXPECT_LT(chi_square(counts, p, n), 45.0) << "epoch " << c.epoch << " level " << c.level;
    // The test has power: the same counts against another epoch's formula
    // (other rules apply, quality weighs differently) fail it by far.
    const auto other_epoch = expected_probabilities(metas, policy, c.epoch == 0 ? 3 : 0, c.level);
    EXPECT_GT(chi_square(counts, other_epoch, n), 1000.0) << "epoch " << c.epoch << " level " << c.level;
  }
}

TEST(CurriculumSampler, BuiltInCorpusSharesMatchTheFormula) {
  TaskCorpus corpus = build_training_corpus(20000, 5, 0.1, 8);
  const std::vector<SampleMeta> metas = corpus.samples;
  SamplingPolicy policy = policy_with(PacingKind::None, {}, 5);
  policy.source_weights = SourceWeightRules::parse("simple*0.5@epoch<1; complex*2@epoch>=1", "k");
  policy.quality_sampling = true;
  policy.quality_growth = 0.2;
  CurriculumSampler sampler(std::move(corpus), 64, policy, 5);

  // Draws in epoch e follow P_e, so the expected count of a group is
  // sum_e draws_e * P_e(group) (Wald: whether a draw is made depends only on earlier ones).
  std::map<std::int64_t, std::int64_t> draws_in_epoch;
  std::map<int, std::int64_t> level_count;
  std::map<std::string, std::int64_t> source_count;
  std::map<float, std::int64_t> quality_count;
  std::int64_t total = 0;
  for (std::int64_t i = 0; total < 200000; ++i) {
    const std::int64_t e = sampler.epoch_of(i);
    for (std::int64_t k : sampler.sample_indices(i, 0)) {
      const SampleMeta& m = metas[static_cast<std::size_t>(k)];
      ++draws_in_epoch[e];
      ++level_count[m.level];
      ++source_count[m.source];
      ++quality_count[m.quality];
      ++total;
    }
  }
  ASSERT_GE(draws_in_epoch.size(), 3u);  // the rules and the growth change between them
  std::map<int, double> level_expected;
  std::map<std::string, double> source_expected;
  std::map<float, double> quality_expected;
  for (const auto& [e, n] : draws_in_epoch) {
    const auto p = expected_probabilities(metas, policy, e, 5);
    for (std::size_t k = 0; k < p.size(); ++k) {
      level_expected[metas[k].level] += static_cast<double>(n) * p[k];
      source_expected[metas[k].source] += static_cast<double>(n) * p[k];
      quality_expected[metas[k].quality] += static_cast<double>(n) * p[k];
    }
  }
  // Each share within 5 binomial standard deviations.
  auto check = [&](double observed, double expected, const std::string& what) {
    const double q = expected / static_cast<double>(total);
    EXPECT_NEAR(observed, expected, 5 * std::sqrt(static_cast<double>(total) * q * (1 - q)) + 1) << what;
  };
  for (const auto& [level, e] : level_expected) check(static_cast<double>(level_count[level]), e, "level");
  for (const auto& [source, e] : source_expected) check(static_cast<double>(source_count[source]), e, source);
  for (const auto& [quality, e] : quality_expected) check(static_cast<double>(quality_count[quality]), e, "quality");
  // Quality sampling made a difference the check above can see: corrupted
  // samples (quality <= 3) are 10% of the corpus but far rarer in the draws.
  std::int64_t low = 0;
  for (const auto& [quality, n] : quality_count)
    if (quality <= 3) low += n;
  EXPECT_LT(static_cast<double>(low) / static_cast<double>(total), 0.01);

  const SamplingSummary s = sampler.summary(1, 5);
  double level_sum = 0;
  for (const auto& [level, p] : s.level_share) level_sum += p;
  EXPECT_NEAR(level_sum, 1.0, 1e-12);
  ASSERT_EQ(s.source_share.size(), 2u);
  EXPECT_EQ(s.source_share[0].first, "complex");
  const auto p1 = expected_probabilities(metas, policy, 1, 5);
  double complex_share = 0;
  for (std::size_t k = 0; k < p1.size(); ++k) complex_share += metas[k].source == "complex" ? p1[k] : 0;
  EXPECT_NEAR(s.source_share[0].second, complex_share, 1e-12);
  EXPECT_LT(s.corrupted_share, 0.01);
  EXPECT_GT(s.mean_quality, 8.0);
  EXPECT_EQ(s.eligible_samples, 20000);
  EXPECT_NE(s.to_string().find("epoch 1, levels <= 5: 20000 samples; L1 "), std::string::npos) << s.to_string();
}

TEST(CurriculumSampler, NeverDrawsAboveThePacedLevel) {
  TaskCorpus corpus = build_training_corpus(5000, 5, 0.1, 3);
  const std::vector<SampleMeta> metas = corpus.samples;
  SamplingPolicy policy = policy_with(PacingKind::Linear, {}, 5);
  policy.curriculum.total_steps = 1000;
  CurriculumSampler sampler(std::move(corpus), 32, policy, 3);
  std::int64_t i = 0;
  for (std::int64_t step : {0, 100, 250, 499, 500, 999, 1000}) {
    const int max_level = sampler.max_level_at(step);
    std::set<int> seen;
    for (int k = 0; k < 2000; ++k, ++i)
      for (std::int64_t s : sampler.sample_indices(i, step)) {
        const int level = metas[static_cast<std::size_t>(s)].level;
        ASSERT_LE(level, max_level) << "step " << step;
        seen.insert(level);
      }
    EXPECT_EQ(*seen.rbegin(), max_level) << "step " << step;  // the newly unlocked level does appear
    const auto p = sampler.probabilities(0, max_level);
    double sum = 0;
    for (std::size_t k = 0; k < p.size(); ++k) {
      if (metas[k].level > max_level) {
        EXPECT_EQ(p[k], 0.0);
      }
      sum += p[k];
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
  }
}

TEST(CurriculumSampler, SequencesAreDeterministicAndConcatenateSamples) {
  TaskCorpus corpus = build_training_corpus(3000, 5, 0.1, 1);
  const auto tokens = corpus.tokens;
  const std::vector<SampleMeta> metas = corpus.samples;
  SamplingPolicy policy = policy_with(PacingKind::None, {}, 5);
  policy.quality_sampling = true;
  const std::int64_t T = 100;
  CurriculumSampler a(corpus, T, policy, 7), b(corpus, T, policy, 7), other(corpus, T, policy, 8);
  std::vector<std::int32_t> in1(T), tg1(T), in2(T), tg2(T);
  // b reads in another order: a sequence depends on (seed, i, step) only.
  for (std::int64_t i : {5, 3, 4000, 0}) b.sequence(i, 10, in2.data(), tg2.data());
  int differ = 0;
  for (std::int64_t i : {0, 3, 5, 4000}) {
    a.sequence(i, 10, in1.data(), tg1.data());
    b.sequence(i, 10, in2.data(), tg2.data());
    EXPECT_EQ(in1, in2);
    EXPECT_EQ(tg1, tg2);
    other.sequence(i, 10, in2.data(), tg2.data());
    differ += in1 != in2;
    // The window is the drawn samples back to back from a position inside
    // the first one; targets are shifted by one.
    std::vector<std::int32_t> window;
    const auto drawn = a.sample_indices(i, 10);
    for (std::int64_t k : drawn) {
      const SampleMeta& m = metas[static_cast<std::size_t>(k)];
      window.insert(window.end(), tokens.begin() + m.offset, tokens.begin() + m.offset + m.length);
    }
    const std::int64_t first_length = metas[static_cast<std::size_t>(drawn.front())].length;
    std::int64_t skip = -1;
    for (std::int64_t s = 0; s < first_length && skip < 0; ++s)
      if (static_cast<std::int64_t>(window.size()) >= s + T + 1 &&
          std::equal(in1.begin(), in1.end(), window.begin() + s) &&
          std::equal(tg1.begin(), tg1.end(), window.begin() + s + 1))
        skip = s;
    ASSERT_GE(skip, 0) << "sequence " << i << " is not the drawn samples back to back";
    // The last sample is needed: without it the window would be short.
    const SampleMeta& last = metas[static_cast<std::size_t>(drawn.back())];
    EXPECT_LT(static_cast<std::int64_t>(window.size()) - skip - last.length, T + 1);
  }
  EXPECT_EQ(differ, 4);
}

TEST(CurriculumSampler, WindowsStartAnywhereInTheirFirstSample) {
  // Like the plain stream's windows: the start offset inside the first
  // sample is uniform, so it is 0 for only about 1 in (sample length) windows.
  TaskCorpus corpus = build_training_corpus(3000, 2, 0.0, 1);
  const SamplingPolicy policy = policy_with(PacingKind::None, {}, 2);
  const std::int64_t T = 32;
  CurriculumSampler sampler(corpus, T, policy, 3);
  std::vector<std::int32_t> in(T), tg(T);
  const std::int32_t q = corpus.tokens[0];  // every sample starts with 'Q'
  int starts_at_sample = 0;
  for (std::int64_t i = 0; i < 400; ++i) {
    sampler.sequence(i, 0, in.data(), tg.data());
    starts_at_sample += in[0] == q && in[1] == corpus.tokens[1];
  }
  EXPECT_GT(starts_at_sample, 0);
  EXPECT_LT(starts_at_sample, 100);
}

TEST(CurriculumSampler, EpochOfCountsCorpusTokens) {
  std::vector<SampleMeta> metas;
  auto tokens = synthetic({{1, "a", 5}, {1, "a", 5}, {1, "b", 5}, {1, "b", 5}}, 25, metas);  // N = 100
  CurriculumSampler s(tokens, metas, 16, policy_with(PacingKind::None, {}, 5), 0);
  EXPECT_EQ(s.total_tokens(), 100);
  EXPECT_EQ(s.epoch_of(0), 0);
  EXPECT_EQ(s.epoch_of(6), 0);   // 96 tokens read
  EXPECT_EQ(s.epoch_of(7), 1);   // 112
  EXPECT_EQ(s.epoch_of(12), 1);  // 192
  EXPECT_EQ(s.epoch_of(13), 2);  // 208
  EXPECT_EQ(s.epoch_of(625), 100);
}

TEST(CurriculumSampler, ClearErrors) {
  std::vector<SampleMeta> metas;
  auto tokens = synthetic({{3, "a", 5}, {4, "b", 5}}, 10, metas);
  auto message = [&](SamplingPolicy p) -> std::string {
    try {
      CurriculumSampler s(tokens, metas, 8, std::move(p), 0);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  // Pacing starts at level 1 but every sample is level 3 or 4.
  SamplingPolicy low = policy_with(PacingKind::Linear, {}, 5);
  low.curriculum.total_steps = 100;
  EXPECT_NE(message(low).find("no sample has level <= 1"), std::string::npos) << message(low);
  SamplingPolicy typo = policy_with(PacingKind::None, {}, 5);
  typo.source_weights = SourceWeightRules::parse("a*2; bb*3", "phase.1.source_weights");
  EXPECT_NE(message(typo).find("phase.1.source_weights: rule 'bb*3' names source 'bb'"), std::string::npos)
      << message(typo);
  SamplingPolicy cold = policy_with(PacingKind::None, {}, 5);
  cold.quality_temperature = 0;
  EXPECT_NE(message(cold).find("temperature"), std::string::npos);
  SamplingPolicy ok = policy_with(PacingKind::None, {}, 5);
  CurriculumSampler s(tokens, metas, 8, ok, 0);
  EXPECT_THROW(s.probabilities(0, 2), Error);
  std::vector<SampleMeta> outside = metas;
  outside[1].length = 11;
  EXPECT_THROW(CurriculumSampler(tokens, outside, 8, ok, 0), Error);
  EXPECT_THROW(CurriculumSampler(tokens, {}, 8, ok, 0), Error);
}

}  // namespace
}  // namespace pouch
