// Continuous batching in the server: concurrent requests share forwards and
// get the text each would get alone; a swap during generation never mixes
// versions inside a request.
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "serve/generation_batcher.h"
#include "serve_test_util.h"

namespace pouch {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::tiny_serving_model;

// What `model` generates for `request` alone: one sequence stepped to its end.
std::string alone(const ServingModel& model, const GenerateRequest& request) {
  const EncodedPrompt prompt = encode_generate_prompt(request, model);
  GenerationSequence seq =
      model.start(prompt.ids, model.generate_options(request.sampling, prompt.max_tokens, request.ignore_eos),
                  request.seed.value());
  GenerationSequence* batch[] = {&seq};
  while (!seq.done()) model.step(batch);
  return model.tokenizer().decode(seq.generated());
}

GenerateRequest sampled(const std::string& prompt, std::int64_t max_tokens, std::uint64_t seed) {
  GenerateRequest r;
  r.prompt = prompt;
  r.max_tokens = max_tokens;
  r.sampling.temperature = seed % 2 ? 0.9f : 0.0f;  // greedy and seeded sampling
  r.seed = seed;
  return r;
}

class Outcomes {
 public:
  GenerationBatcher::Done record(int key) {
    return [this, key](GenerationOutcome o) {
      std::lock_guard lock(mutex_);
      outcomes_[key] = std::move(o);
      finished_at_[key] = static_cast<int>(finished_at_.size());
    };
  }
  // 0 for the first request answered, 1 for the next...
  int finished_at(int key) {
    std::lock_guard lock(mutex_);
    return finished_at_.at(key);
  }
  std::size_t size() {
    std::lock_guard lock(mutex_);
    return outcomes_.size();
  }
  GenerationOutcome at(int key) {
    std::lock_guard lock(mutex_);
    return outcomes_.at(key);
  }

 private:
  std::mutex mutex_;
  std::map<int, GenerationOutcome> outcomes_;
  std::map<int, int> finished_at_;
};

TEST(GenerationBatcher, ConcurrentRequestsShareForwardsAndMatchAlone) {
  ModelSlot slot;
  slot.install(tiny_serving_model(1, 21));
  GenerationBatcher batcher(slot, /*max_batch=*/16, /*max_waiting=*/16, 0);
  Outcomes outcomes;
  std::vector<GenerateRequest> requests;
  for (int i = 0; i < 8; ++i) requests.push_back(sampled(i % 2 ? "Q: 1+2=" : "Q: 12+7=", 20, 40 + i));
  // One group: all eight join at the same step, however the test thread is
  // scheduled against the batcher's.
  std::vector<std::pair<GenerateRequest, GenerationBatcher::Done>> group;
  for (int i = 0; i < 8; ++i) group.emplace_back(requests[i], outcomes.record(i));
  ASSERT_TRUE(batcher.submit_all(std::move(group)));
  ASSERT_TRUE(eventually([&] { return outcomes.size() == 8; }, 20s));
  const auto model = slot.current();
  std::int64_t tokens = 0;
  for (int i = 0; i < 8; ++i) {
    const GenerationOutcome o = outcomes.at(i);
    ASSERT_EQ(o.status, 200) << o.error;
    EXPECT_EQ(o.text, alone(*model, requests[i])) << "request " << i;
    tokens += o.tokens;
  }
  // One at a time, every prompt and generated token is a forward of its own.
  const std::int64_t sequential = tokens + 4 * 7 + 4 * 8;
  EXPECT_LT(batcher.forwards(), sequential / 2) << "forwards " << batcher.forwards() << " for " << sequential
                                                << " tokens: the requests were not decoded together";
  // One version: one forward per step; a thread's CPU time never exceeds its wall time.
  // (The last step is counted just after it answers its requests.)
  EXPECT_TRUE(eventually([&] { return batcher.step_times().steps == batcher.forwards(); }))
      << batcher.step_times().steps << " steps, " << batcher.forwards() << " forwards";
  const StepTimes times = batcher.step_times();
  EXPECT_GT(times.cpu_s, 0.0);
  EXPECT_LE(times.cpu_s, times.wall_s + 1e-3);
}

TEST(GenerationBatcher, SwapDuringGenerationNeverMixesVersions) {
  GPTConfig cfg = testing::tiny_serving_config();
  cfg.d_model = 64;
  cfg.seq_len = 160;
  ModelSlot slot;
  slot.install(tiny_serving_model(1, 31, cfg));
  const auto next = tiny_serving_model(2, 32, cfg);  // built before: the install must be quick
  GenerationBatcher batcher(slot, 16, 16, 0);
  Outcomes outcomes;
  std::vector<GenerateRequest> requests;
  for (int i = 0; i < 8; ++i) requests.push_back(sampled("Q: 3+4=", 150, 60 + i));
  // One group: the first four join at the same step, before the swap.
  std::vector<std::pair<GenerateRequest, GenerationBatcher::Done>> first;
  for (int i = 0; i < 4; ++i) first.emplace_back(requests[i], outcomes.record(i));
  ASSERT_TRUE(batcher.submit_all(std::move(first)));
  // A tight wait (not eventually's 10 ms polls): the swap must land a few
  // tokens in, while the 150-token requests still decode.
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (batcher.forwards() < 3 && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
  const auto v1 = slot.current();
  slot.install(next);
  const bool v1_still_running = outcomes.size() < 4;
  for (int i = 4; i < 8; ++i) ASSERT_TRUE(batcher.submit(requests[i], outcomes.record(i)));
  ASSERT_TRUE(eventually([&] { return outcomes.size() == 8; }, 30s));
  const auto v2 = slot.current();
  for (int i = 0; i < 8; ++i) {
    const GenerationOutcome o = outcomes.at(i);
    ASSERT_EQ(o.status, 200) << o.error;
    // Joined before the swap: version 1 throughout; after: version 2.
    EXPECT_EQ(o.version, i < 4 ? 1 : 2) << "request " << i;
    EXPECT_EQ(o.text, alone(i < 4 ? *v1 : *v2, requests[i])) << "request " << i << " version " << o.version;
  }
  EXPECT_TRUE(v1_still_running) << "the swap should land while version-1 requests decode";
}

// Swaps faster than requests last: a request joining while two versions are
// active takes the newer of them, not a third (one forward per version per
// step), and later ones take the newest again once a version has drained.
TEST(GenerationBatcher, AtMostTwoVersionsAreActive) {
  GPTConfig cfg = testing::tiny_serving_config();
  cfg.layers = 2;  // slow enough that 0-1 still decode when 4-5 join
  cfg.d_model = 128;
  cfg.seq_len = 160;
  // Built before: an install must be quicker than the long requests.
  const std::map<std::int64_t, std::shared_ptr<const ServingModel>> models{
      {1, tiny_serving_model(1, 31, cfg)}, {2, tiny_serving_model(2, 32, cfg)}, {3, tiny_serving_model(3, 33, cfg)}};
  ModelSlot slot;
  slot.install(models.at(1));
  GenerationBatcher batcher(slot, 16, 16, 0);
  Outcomes outcomes;
  std::vector<GenerateRequest> requests;
  // 0-1: long, version 1; 2-3: long, version 2; 4-5: short, joined after
  // version 3 is installed while 1 and 2 decode; 6: after all of them.
  for (int i = 0; i < 7; ++i) {
    requests.push_back(sampled("Q: 3+4=", i < 4 ? 150 : 20, 60 + i));
    requests.back().ignore_eos = true;  // the long ones stay long
  }
  // A tight wait for `n` more forwards (a step runs one per active version).
  auto forwards_past = [&](std::int64_t n) {
    const std::int64_t target = batcher.forwards() + n;
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (batcher.forwards() < target && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
  };
  // Each pair as one group, so both of it join at the same step.
  auto submit_pair = [&](int first) {
    std::vector<std::pair<GenerateRequest, GenerationBatcher::Done>> pair;
    for (int i = first; i < first + 2; ++i) pair.emplace_back(requests[i], outcomes.record(i));
    return batcher.submit_all(std::move(pair));
  };
  ASSERT_TRUE(submit_pair(0));
  forwards_past(3);
  slot.install(models.at(2));
  ASSERT_TRUE(submit_pair(2));
  forwards_past(3);  // the step under way, then one with 2 and 3 joined
  slot.install(models.at(3));
  ASSERT_TRUE(submit_pair(4));
  ASSERT_TRUE(eventually([&] { return outcomes.size() == 6; }, 30s));
  ASSERT_TRUE(batcher.submit(requests[6], outcomes.record(6)));
  ASSERT_TRUE(eventually([&] { return outcomes.size() == 7; }, 30s));
  const std::int64_t expected_version[] = {1, 1, 2, 2, 2, 2, 3};
  for (int i = 0; i < 7; ++i) {
    const GenerationOutcome o = outcomes.at(i);
    ASSERT_EQ(o.status, 200) << o.error;
    EXPECT_EQ(o.version, expected_version[i]) << "request " << i;
    EXPECT_EQ(o.text, alone(*models.at(o.version), requests[i])) << "request " << i << " version " << o.version;
  }
  // 4 and 5 joined (and ended) while versions 1 and 2 were both active.
  for (int late : {4, 5})
    for (int early : {0, 1}) EXPECT_LT(outcomes.finished_at(late), outcomes.finished_at(early));
}

// ignore_eos: exactly max_tokens, where the same requests without it stop at
// the end-of-text token (an untrained model samples it ~1 in 31 tokens).
TEST(GenerationBatcher, IgnoreEosGeneratesExactlyMaxTokens) {
  ModelSlot slot;
  slot.install(tiny_serving_model(1, 21));
  GenerationBatcher batcher(slot, 16, 16, 0);
  Outcomes outcomes;
  constexpr int kRequests = 12;
  constexpr std::int64_t kMaxTokens = 29;  // context 32, prompt "Q: " 3 tokens
  for (int i = 0; i < 2 * kRequests; ++i) {
    GenerateRequest r;
    r.prompt = "Q: ";
    r.max_tokens = kMaxTokens;
    r.sampling.temperature = 1.0f;
    r.seed = 100 + i % kRequests;
    r.ignore_eos = i >= kRequests;
    ASSERT_TRUE(batcher.submit(r, outcomes.record(i)));
  }
  ASSERT_TRUE(eventually([&] { return outcomes.size() == 2 * kRequests; }, 20s));
  int stopped_early = 0;
  for (int i = 0; i < kRequests; ++i) {
    const GenerationOutcome natural = outcomes.at(i), fixed = outcomes.at(kRequests + i);
    ASSERT_EQ(natural.status, 200) << natural.error;
    ASSERT_EQ(fixed.status, 200) << fixed.error;
    EXPECT_EQ(fixed.tokens, kMaxTokens) << "seed " << 100 + i;
    stopped_early += natural.tokens < kMaxTokens;
    // Same seed: the same tokens up to where the natural one stopped.
    EXPECT_EQ(fixed.text.substr(0, natural.text.size()), natural.text) << "seed " << 100 + i;
  }
  EXPECT_GT(stopped_early, 0) << "no request met the end-of-text token: the test shows nothing";
}

TEST(GenerationBatcher, RefusesPastTheLine) {
  ModelSlot slot;
  slot.install(tiny_serving_model(1, 21));
  GenerationBatcher batcher(slot, /*max_batch=*/1, /*max_waiting=*/0, 0);
  Outcomes outcomes;
  int accepted = 0;
  for (int i = 0; i < 4; ++i) accepted += batcher.submit(sampled("Q:", 30, 1), outcomes.record(i));
  EXPECT_GE(accepted, 1);
  EXPECT_LT(accepted, 4);  // one decodes, none may wait: the rest are refused at once
  ASSERT_TRUE(eventually([&] { return static_cast<int>(outcomes.size()) == accepted; }));
}

}  // namespace
}  // namespace pouch
