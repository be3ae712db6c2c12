// The continual-learning phase (phases/continual/continual_phase.h) end to end through
// train(): a tiny pretrain phase, then kind = continual, in-process. Also its
// pieces: the batch mix (phases/continual/continual_batches.h), the EWC penalty
// (phases/continual/ewc_penalty.h) and the summary (phases/continual/continual_summary.h).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/checkpoint_dir.h"
#include "checkpoint/serving_versions.h"
#include "checkpoint/training_checkpoint.h"
#include "checkpoint/weights_file.h"
#include "data/char_tokenizer.h"
#include "data/stable_hash.h"
#include "data/token_shard.h"
#include "phases/continual/continual_batches.h"
#include "phases/continual/continual_summary.h"
#include "phases/continual/ewc_penalty.h"
#include "phases/continual/watched_stream.h"
#include "phases/schedule/run_state.h"
#include "phases/schedule/schedule_runner.h"
#include "runtime/backend.h"
#include "tests/support/temp_dir.h"

namespace pouch {
namespace {

namespace fs = std::filesystem;

using testing::TempDir;

constexpr std::int64_t kPretrainSteps = 4;
constexpr std::int64_t kContinualSteps = 4;

// A tiny pretrain phase then a continual one, a checkpoint at every step.
RunConfig tiny_config(const std::string& run_dir, const std::string& isolation) {
  RunConfig c;
  c.model.layers = 2;
  c.model.d_model = 32;
  c.model.heads = 2;
  c.model.seq_len = 64;
  c.model.vocab_size = 31;
  c.train.run_dir = run_dir;
  c.train.batch_size = 8;
  c.train.threads = 1;
  c.train.seed = 7;
  c.data.task_train_samples = 1500;
  c.data.task_eval_per_level = 1;
  c.optim.lr = 1e-2f;
  c.optim.warmup_steps = 0;
  c.log.peak_gflops = 1.0;  // no sgemm measurement
  c.log.every = 1000;
  c.checkpoint.every_steps = 1;
  c.checkpoint.keep_last = 0;
  PhaseConfig pre;
  pre.index = 1;
  pre.kind = PhaseKind::Pretrain;
  pre.steps = kPretrainSteps;
  PhaseConfig cont;
  cont.index = 2;
  cont.kind = PhaseKind::Continual;
  cont.steps = kContinualSteps;
  cont.continual.new_samples = 300;
  cont.continual.isolation = isolation;
  cont.continual.lora_rank = 2;
  cont.continual.lora_alpha = 4.0;
  cont.continual.replay_ratio = 0.25;
  cont.continual.publish_every = 1;
  cont.continual.recompute = true;
  c.phases = {pre, cont};
  return c;
}

std::string checkpoint_of(const RunConfig& c, std::int64_t step) {
  return (fs::path(resolve_checkpoint_dir(c)) / step_dir_name(step) / "state.h5").string();
}

std::map<std::string, Tensor> weights_of(const std::string& path) {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : load_weights(path).params) out[name] = t;
  return out;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() && std::memcmp(a.f32(), b.f32(), sizeof(float) * a.numel()) == 0;
}

// Every /phase tensor of a checkpoint, full shapes (world of one).
std::map<std::string, Tensor> phase_tensors_of(const std::string& path) {
  CheckpointState s;
  for (const auto& [name, shape] : list_phase_tensors(path))
    s.phase.push_back({name, shape, ShardSpec::replicated(), {}});
  ReadOptions o;
  o.optim = false;
  read_checkpoint_file(path, s, o);
  std::map<std::string, Tensor> out;
  for (auto& t : s.phase) out[t.name] = t.local;
  return out;
}

TrainReport run(const RunConfig& c, const TrainStart& start = {}) {
  auto be = make_backend(Device::CPU);
  return train(c, "", *be, {}, start);
}

TEST(ContinualPhase, LoraKeepsBaseFrozenAndEndsMerged) {
  TempDir dir;
  const RunConfig c = tiny_config(dir.sub("run"), "lora");
  const TrainReport r = run(c);
  ASSERT_EQ(r.steps, kPretrainSteps + kContinualSteps);

  const auto base = weights_of(checkpoint_of(c, kPretrainSteps));
  // Inside the phase /model is the frozen base, bitwise.
  for (std::int64_t s = kPretrainSteps + 1; s < kPretrainSteps + kContinualSteps; ++s) {
    const auto inside = weights_of(checkpoint_of(c, s));
    for (const auto& [name, t] : base) EXPECT_TRUE(bitwise_equal(t, inside.at(name))) << name << " at step " << s;
  }

  // Version 7 = base + (alpha/r) B A of the step-7 checkpoint's adapters.
  const std::int64_t s7 = kPretrainSteps + kContinualSteps - 1;
  const auto lora = phase_tensors_of(checkpoint_of(c, s7));
  const auto v7 = weights_of((fs::path(serving_dir(c.train.run_dir)) / serving_version_file_name(s7)).string());
  const double scale = c.phases[1].continual.lora_alpha / static_cast<double>(c.phases[1].continual.lora_rank);
  int merged = 0;
  for (const auto& [name, w] : base) {
    const std::string stem = name.substr(0, name.size() - std::string(".weight").size());
    const auto a = lora.find("continual/lora/" + stem + ".lora_A");
    if (name.size() < 7 || name.substr(name.size() - 7) != ".weight" || a == lora.end()) {
      EXPECT_TRUE(bitwise_equal(w, v7.at(name))) << name << " has no adapter and must stay the base";
      continue;
    }
    const Tensor& A = a->second;                                      // [r, in]
    const Tensor& B = lora.at("continual/lora/" + stem + ".lora_B");  // [out, r]
    const std::int64_t out = w.dim(0), in = w.dim(1), rank = A.dim(0);
    double max_b = 0.0;
    for (std::int64_t i = 0; i < B.numel(); ++i) max_b = std::max(max_b, std::fabs(double(B.f32()[i])));
    EXPECT_GT(max_b, 0.0) << stem << ": B never trained";
    for (std::int64_t o = 0; o < out; ++o)
      for (std::int64_t i = 0; i < in; ++i) {
        double d = 0.0;
        for (std::int64_t k = 0; k < rank; ++k) d += double(B.f32()[o * rank + k]) * A.f32()[k * in + i];
        ASSERT_NEAR(v7.at(name).f32()[o * in + i], w.f32()[o * in + i] + scale * d, 1e-5) << name;
      }
    ++merged;
  }
  EXPECT_EQ(merged, 2 * 4);  // 2 layers x (qkv, attn_proj, fc, mlp_proj)

  // The boundary checkpoint and model.h5 hold the merged model: adapted
  // projections changed, every other weight is still the base.
  const auto final_w = weights_of(r.weights_path);
  const auto boundary = weights_of(checkpoint_of(c, kPretrainSteps + kContinualSteps));
  for (const auto& [name, w] : base) {
    EXPECT_TRUE(bitwise_equal(final_w.at(name), boundary.at(name))) << name;
    const bool adapted = name.size() > 7 && name.substr(name.size() - 7) == ".weight" &&
                         lora.count("continual/lora/" + name.substr(0, name.rfind('.')) + ".lora_A") > 0;
    EXPECT_EQ(!bitwise_equal(w, final_w.at(name)), adapted) << name;
  }
  EXPECT_TRUE(list_phase_tensors(checkpoint_of(c, kPretrainSteps + kContinualSteps)).empty());

  // Published: one version per step of the phase, the newest kept, LATEST = the last global step.
  const auto latest = read_latest_serving_version(serving_dir(c.train.run_dir));
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->version, kPretrainSteps + kContinualSteps);
  const auto versions = list_serving_versions(serving_dir(c.train.run_dir));
  ASSERT_EQ(versions.size(), static_cast<std::size_t>(kDefaultServingKeep));
  for (std::size_t i = 0; i < versions.size(); ++i)
    EXPECT_EQ(versions[i].version, kPretrainSteps + kContinualSteps - kDefaultServingKeep + 1 + std::int64_t(i));
  const auto v8 = weights_of(latest->path);
  for (const auto& [name, w] : final_w) EXPECT_TRUE(bitwise_equal(w, v8.at(name))) << name;
}

TEST(ContinualPhase, IsolationNoneTrainsEveryWeight) {
  TempDir dir;
  RunConfig c = tiny_config(dir.sub("run"), "none");
  c.phases[1].continual.publish_every = 2;
  run(c);
  const auto base = weights_of(checkpoint_of(c, kPretrainSteps));
  const auto inside = weights_of(checkpoint_of(c, kPretrainSteps + 2));
  for (const auto& [name, t] : base) EXPECT_FALSE(bitwise_equal(t, inside.at(name))) << name << " did not train";
  const auto versions = list_serving_versions(serving_dir(c.train.run_dir));
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0].version, kPretrainSteps + 2);
  EXPECT_EQ(versions[1].version, kPretrainSteps + 4);
  EXPECT_EQ(read_latest_serving_version(serving_dir(c.train.run_dir))->version, kPretrainSteps + 4);
}

// Resuming inside the phase from a checkpoint of an uninterrupted run gives
// that run's final weights bitwise. Returns {the uninterrupted run, the resumed one}.
std::pair<TrainReport, TrainReport> expect_bitwise_resume(RunConfig c, const TempDir& dir) {
  const TrainReport full = run(c);
  RunConfig resumed = c;
  resumed.train.run_dir = dir.sub("resumed");
  TrainStart start;
  start.resume = checkpoint_of(c, kPretrainSteps + 2);
  const TrainReport r = run(resumed, start);
  EXPECT_EQ(r.resumed_from_step, kPretrainSteps + 2);
  const auto a = weights_of(full.weights_path), b = weights_of(r.weights_path);
  EXPECT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) EXPECT_TRUE(b.count(name) && bitwise_equal(t, b.at(name))) << name;
  // The resumed run publishes only the steps it ran.
  const auto versions = list_serving_versions(serving_dir(resumed.train.run_dir));
  EXPECT_FALSE(versions.empty());
  if (!versions.empty()) EXPECT_GT(versions.front().version, kPretrainSteps + 2);
  return {full, r};
}

TEST(ContinualPhase, ResumeInsideLoraPhaseIsBitwise) {
  TempDir dir;
  expect_bitwise_resume(tiny_config(dir.sub("run"), "lora"), dir);
}

TEST(ContinualPhase, ResumeInsideEwcPhaseIsBitwise) {
  TempDir dir;
  RunConfig c = tiny_config(dir.sub("run"), "none");
  c.phases[1].continual.ewc_lambda = 100.0;
  c.phases[1].continual.ewc_batches = 2;
  expect_bitwise_resume(c, dir);
}

TEST(ContinualPhase, EwcPullsTowardsTheAnchor) {
  // Step 1 of the phase starts at the anchor θ* (no penalty). With a huge λ
  // the penalty's gradient λ·F·(θ − θ*) dominates step 2 wherever F is
  // large, so there AdamW steps back towards θ*: the step-2 update opposes
  // the step-1 displacement. Without EWC the same weights mostly keep going.
  // No gradient clipping here: a clipped total gradient would also shrink the
  // penalty's share against step 1's momentum (the mechanism still holds,
  // it just takes more steps to show).
  TempDir dir;
  const std::int64_t s0 = kPretrainSteps, s1 = kPretrainSteps + 1, s2 = kPretrainSteps + 2;
  RunConfig ewc = tiny_config(dir.sub("ewc"), "none");
  ewc.phases[1].continual.ewc_lambda = 1e7;
  ewc.phases[1].continual.ewc_batches = 2;
  ewc.phases[1].continual.publish_every = 0;
  ewc.optim.grad_clip = 0.0f;
  RunConfig plain = ewc;
  plain.train.run_dir = dir.sub("plain");
  plain.phases[1].continual.ewc_lambda = 0.0;
  run(ewc);
  run(plain);
  // The weights with the largest Fisher values (top 2%).
  const auto fisher = phase_tensors_of(checkpoint_of(ewc, s1));
  std::vector<std::pair<float, std::pair<std::string, std::int64_t>>> ranked;
  for (const auto& [name, f] : fisher) {
    if (name.rfind("continual/ewc/fisher/", 0) != 0) continue;
    for (std::int64_t i = 0; i < f.numel(); ++i) ranked.push_back({f.f32()[i], {name.substr(21), i}});
  }
  ASSERT_FALSE(ranked.empty());
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  ranked.resize(ranked.size() / 50);
  ASSERT_GT(ranked.back().first, 0.0f);
  auto reversed_share = [&](const RunConfig& c) {
    const auto w0 = weights_of(checkpoint_of(c, s0)), w1 = weights_of(checkpoint_of(c, s1)),
               w2 = weights_of(checkpoint_of(c, s2));
    int reversed = 0;
    for (const auto& [f, at] : ranked) {
      const double d1 = double(w1.at(at.first).f32()[at.second]) - w0.at(at.first).f32()[at.second];
      const double d2 = double(w2.at(at.first).f32()[at.second]) - w1.at(at.first).f32()[at.second];
      if (d1 * d2 < 0) ++reversed;
    }
    return static_cast<double>(reversed) / static_cast<double>(ranked.size());
  };
  const double with_ewc = reversed_share(ewc), without = reversed_share(plain);
  EXPECT_GT(with_ewc, 0.9);
  EXPECT_LT(without, 0.5);
  // The anchor is the phase's starting point.
  const auto start = weights_of(checkpoint_of(ewc, s0));
  for (const auto& [name, t] : start) EXPECT_TRUE(bitwise_equal(t, fisher.at("continual/ewc/anchor/" + name))) << name;
}

// ---- the batch mix ----

TEST(ContinualBatches, ReplayRowsComeFromOldLevels) {
  const TaskCorpus old = build_training_corpus_in_levels(2000, 1, 5, 0.0, 3);
  ContinualDataConfig cfg;
  cfg.new_samples = 300;
  cfg.batch_size = 8;
  cfg.grad_accum = 2;
  cfg.seq_len = 64;
  cfg.seed = 11;
  cfg.replay_ratio = 0.25;
  const ContinualBatches batches(cfg, old);
  ASSERT_EQ(batches.new_rows(), 6);
  ASSERT_EQ(batches.replay_rows(), 2);
  std::map<int, int> replay_levels;
  for (std::int64_t step = 0; step < 20; ++step)
    for (std::int64_t micro = 0; micro < 2; ++micro)
      for (std::int64_t row = 0; row < 8; ++row)
        for (int level : batches.row_levels(step, micro, row)) {
          if (batches.is_replay_row(row)) {
            EXPECT_GE(level, 1);
            EXPECT_LE(level, 5);
            ++replay_levels[level];
          } else {
            EXPECT_EQ(level, 6);
          }
        }
  EXPECT_EQ(replay_levels.size(), 5u) << "replay covers every old level";

  // A pure function of (step, micro, row): a data-parallel slice reads the same rows.
  std::vector<std::int32_t> x(8 * 64), y(8 * 64), xs(4 * 64), ys(4 * 64);
  batches.fill(5, 1, 0, 8, x.data(), y.data());
  batches.fill(5, 1, 4, 4, xs.data(), ys.data());
  EXPECT_TRUE(std::equal(xs.begin(), xs.end(), x.begin() + 4 * 64));
  EXPECT_TRUE(std::equal(ys.begin(), ys.end(), y.begin() + 4 * 64));
  std::vector<std::int32_t> x2(8 * 64), y2(8 * 64);
  batches.fill(6, 1, 0, 8, x2.data(), y2.data());
  EXPECT_NE(x, x2);
}

TEST(ContinualBatches, ReplayRatioZeroIsAllNew) {
  const TaskCorpus old = build_training_corpus_in_levels(500, 1, 5, 0.0, 3);
  ContinualDataConfig cfg;
  cfg.new_samples = 100;
  cfg.batch_size = 4;
  cfg.seq_len = 32;
  cfg.replay_ratio = 0.0;
  const ContinualBatches batches(cfg, old);
  EXPECT_EQ(batches.replay_rows(), 0);
  for (std::int64_t row = 0; row < 4; ++row)
    for (int level : batches.row_levels(0, 0, row)) EXPECT_EQ(level, 6);
}

// ---- EWC ----

TEST(EwcPenalty, GradientAndPenaltyMatchHandComputation) {
  auto be = make_backend(Device::CPU);
  ParameterStore store;
  Parameter* w = store.add("w", {2, 2});
  Parameter* b = store.add("b", {3});
  store.allocate(*be);
  const float w0[4] = {1.0f, -2.0f, 0.5f, 3.0f}, b0[3] = {0.0f, 1.0f, -1.0f};
  std::memcpy(w->value.f32(), w0, sizeof w0);
  std::memcpy(b->value.f32(), b0, sizeof b0);
  EwcPenalty ewc(store, *be);
  ewc.set_anchor(store.values());  // θ* = θ0

  // F = mean of two batches' squared gradients.
  const float g1w[4] = {1.0f, 2.0f, 0.0f, -1.0f}, g1b[3] = {3.0f, 0.0f, 1.0f};
  const float g2w[4] = {3.0f, 0.0f, 1.0f, 1.0f}, g2b[3] = {1.0f, 2.0f, -1.0f};
  for (int k = 0; k < 2; ++k) {
    store.zero_grad();
    std::memcpy(w->grad.f32(), k == 0 ? g1w : g2w, sizeof g1w);
    std::memcpy(b->grad.f32(), k == 0 ? g1b : g2b, sizeof g1b);
    ewc.accumulate_fisher(store.grads(), 0.5);
  }
  const float Fw[4] = {5.0f, 2.0f, 0.5f, 1.0f}, Fb[3] = {5.0f, 2.0f, 1.0f};  // (g1² + g2²) / 2
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(ewc.fisher_of(*w).f32()[i], Fw[i]);
  for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(ewc.fisher_of(*b).f32()[i], Fb[i]);

  // Move θ, then: grad += λ F (θ − θ*), penalty = λ/2 Σ F (θ − θ*)².
  const float dw[4] = {0.1f, -0.2f, 0.0f, 0.3f}, db[3] = {1.0f, 0.0f, -0.5f};
  for (int i = 0; i < 4; ++i) w->value.f32()[i] += dw[i];
  for (int i = 0; i < 3; ++i) b->value.f32()[i] += db[i];
  store.zero_grad();
  w->grad.f32()[0] = 1.0f;  // an existing data gradient is kept
  const double lambda = 3.0;
  ewc.add_gradient(store.values(), store.grads(), lambda);
  double expected_penalty = 0.0;
  for (int i = 0; i < 4; ++i) {
    const double d = static_cast<double>(w->value.f32()[i]) - w0[i];  // the float θ − θ* the code sees
    EXPECT_NEAR(w->grad.f32()[i], (i == 0 ? 1.0 : 0.0) + lambda * Fw[i] * d, 1e-6) << i;
    expected_penalty += 0.5 * lambda * Fw[i] * d * d;
  }
  for (int i = 0; i < 3; ++i) {
    const double d = static_cast<double>(b->value.f32()[i]) - b0[i];
    EXPECT_NEAR(b->grad.f32()[i], lambda * Fb[i] * d, 1e-6) << i;
    expected_penalty += 0.5 * lambda * Fb[i] * d * d;
  }
  EXPECT_NEAR(ewc.penalty(store.values(), lambda), expected_penalty, 1e-9);
  // Hand numbers for two entries: w[1]: 3·2·(−0.2) = −1.2; b[0]: 3·5·1 = 15.
  EXPECT_NEAR(w->grad.f32()[1], -1.2, 1e-5);
  EXPECT_NEAR(b->grad.f32()[0], 15.0, 1e-5);

  // The gradient is the penalty's derivative (central differences).
  for (int i = 0; i < 4; ++i) {
    const float keep = w->value.f32()[i];
    const double h = 1e-3;
    w->value.f32()[i] = static_cast<float>(keep + h);
    const double up = ewc.penalty(store.values(), lambda);
    w->value.f32()[i] = static_cast<float>(keep - h);
    const double down = ewc.penalty(store.values(), lambda);
    w->value.f32()[i] = keep;
    EXPECT_NEAR((up - down) / (2 * h), w->grad.f32()[i] - (i == 0 ? 1.0 : 0.0), 1e-3) << i;
  }
}

// ---- the summary ----

TEST(ContinualSummary, ForgettingAndBackwardTransfer) {
  auto acc = [](int level, int correct) { return LevelAccuracy{level, 10, correct, 10}; };
  const std::vector<LevelAccuracy> before = {acc(1, 9), acc(2, 8), acc(3, 5), acc(6, 0)};
  const std::vector<LevelAccuracy> after = {acc(1, 7), acc(2, 8), acc(3, 6), acc(6, 9)};
  const ContinualSummary s = summarize_continual(before, after, 6);
  EXPECT_DOUBLE_EQ(s.new_task.before, 0.0);
  EXPECT_DOUBLE_EQ(s.new_task.after, 90.0);
  ASSERT_EQ(s.old_levels.size(), 3u);
  EXPECT_NEAR(s.bwt, (-20.0 + 0.0 + 10.0) / 3.0, 1e-12);
  EXPECT_NEAR(s.forgetting, 20.0 / 3.0, 1e-12);  // the gain on L3 does not offset L1's drop
  nlohmann::json j;
  add_continual_summary_fields(j, s);
  EXPECT_DOUBLE_EQ(j["continual_new_acc_after"].get<double>(), 90.0);
  EXPECT_DOUBLE_EQ(j["continual_old_acc_l1_before"].get<double>(), 90.0);
  EXPECT_NE(format_continual_summary(s).find("L6 0% -> 90%"), std::string::npos);
}

// ---- watch_dir: new files learned from a directory (phases/continual/watched_batches.h)

// n docs "a+b=c" with a, b in 10..99: the built-in task's alphabet.
std::string task_text(int docs, int seed, bool jsonl) {
  std::string out;
  for (int i = 0; i < docs; ++i) {
    const int a = 10 + (i * 7 + seed) % 90, b = 10 + (i * 13 + seed * 3) % 90;
    const std::string doc = fmt::format("{}+{}={}", a, b, a + b);
    out += jsonl ? fmt::format("{{\"text\": \"{}\"}}\n", doc) : doc + "\n\n";
  }
  return out;
}

// Tokens of task_text: every document and its end-of-text.
std::int64_t task_tokens(int docs, int seed) {
  std::int64_t n = 0;
  for (int i = 0; i < docs; ++i) {
    const int a = 10 + (i * 7 + seed) % 90, b = 10 + (i * 13 + seed * 3) % 90;
    n += static_cast<std::int64_t>(fmt::format("{}+{}={}", a, b, a + b).size()) + 1;
  }
  return n;
}

RunConfig watch_config(const TempDir& dir, const std::string& run) {
  RunConfig c = tiny_config(dir.sub(run), "lora");
  ContinualPhaseConfig& w = c.phases[1].continual;
  w.watch_dir = dir.sub("inbox");
  w.on_idle = "wait";
  w.idle_timeout_s = 0;  // learn what the directory holds, then end
  c.phases[1].steps = 50;
  return c;
}

std::vector<nlohmann::json> metrics_of(const TrainReport& r) {
  std::vector<nlohmann::json> out;
  std::ifstream in(r.metrics_path);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

// The files of the inbox: 3 good ones (text, JSON lines, a token shard) and
// work in progress or broken ones that must not be learned. Returns the
// good files' tokens.
std::int64_t fill_inbox(const TempDir& dir) {
  fs::create_directories(dir.sub("inbox"));
  std::ofstream(dir.sub("inbox/a.txt")) << task_text(60, 1, false);
  std::ofstream(dir.sub("inbox/b.jsonl")) << task_text(50, 2, true);
  std::ofstream(dir.sub("inbox/bad.jsonl")) << task_text(20, 3, true) << "{\"text\": 5}\n";
  std::ofstream(dir.sub("inbox/.c.txt")) << task_text(10, 4, false);
  std::ofstream(dir.sub("inbox/d.tmp")) << task_text(10, 5, false);
  std::vector<std::int32_t> ids(300);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int32_t>((i * 11) % 31);
  write_token_shard(dir.sub("inbox/c.bin"), ids, 31);
  return task_tokens(60, 1) + task_tokens(50, 2) + static_cast<std::int64_t>(ids.size());
}

TEST(ContinualWatch, LearnsEveryCompleteFileOnceSkipsMalformedAndEndsWhenTheDataRunsOut) {
  TempDir dir;
  const std::int64_t N = fill_inbox(dir);
  const RunConfig c = watch_config(dir, "run");
  const std::int64_t T = c.model.seq_len, per_step = 6;  // 8 rows, round(8 x 0.25) = 2 replayed
  const TrainReport r = run(c);
  const std::int64_t windows = (N - 1) / T;
  // Whole steps of 6 windows, then the step that takes the rest and ends
  // the phase (whose boundary is stamped at its last global step, 54).
  const auto lines = metrics_of(r);
  const auto phase_steps = std::count_if(lines.begin(), lines.end(),
                                         [](const nlohmann::json& l) { return l.contains("watch_new_windows"); });
  EXPECT_EQ(phase_steps, windows / per_step + 1);
  EXPECT_EQ(r.steps, kPretrainSteps + c.phases[1].steps);
  const nlohmann::json& last = lines.back();
  EXPECT_EQ(last["watch_files"].get<std::int64_t>(), 3);
  EXPECT_EQ(last["watch_skipped"].get<std::int64_t>(), 1);
  EXPECT_EQ(last["watch_tokens_learned"].get<std::int64_t>(), windows * T);
  EXPECT_EQ(last["watch_tokens_pending"].get<std::int64_t>(), N - windows * T);
  EXPECT_EQ(last["watch_new_windows"].get<std::int64_t>(), windows % per_step);

  // The ledger of the boundary checkpoint: every file by name and hash, in name order.
  const CheckpointState rows = read_checkpoint_rows(checkpoint_of(c, r.steps), 0);
  const auto ledger = nlohmann::json::parse(rows.extra_attrs.at("continual_watch_ledger"));
  ASSERT_EQ(ledger.size(), 4u);
  const std::vector<std::string> names = {"a.txt", "b.jsonl", "bad.jsonl", "c.bin"};
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(ledger[i]["name"], names[i]);
    std::ifstream in(dir.sub("inbox/" + names[i]), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(ledger[i]["hash"], fmt::format("{:016x}", fnv1a64(bytes))) << names[i];
    EXPECT_EQ(ledger[i]["error"].get<std::string>().empty(), names[i] != "bad.jsonl") << ledger[i].dump();
  }
  EXPECT_EQ(ledger[0]["tokens"].get<std::int64_t>(), task_tokens(60, 1));
  EXPECT_EQ(ledger[2]["tokens"].get<std::int64_t>(), 0);  // never half-learned
  EXPECT_NE(ledger[2]["error"].get<std::string>().find("bad.jsonl:21"), std::string::npos) << ledger[2].dump();
  // Published for pouch serve at the phase's (early) end.
  EXPECT_EQ(read_latest_serving_version(serving_dir(c.train.run_dir))->version, kPretrainSteps + phase_steps);
}

TEST(ContinualWatch, ResumeInsideThePhaseIsBitwiseAndLearnsNoFileTwice) {
  TempDir dir;
  fill_inbox(dir);
  const auto [full, resumed] = expect_bitwise_resume(watch_config(dir, "run"), dir);
  EXPECT_EQ(resumed.steps, full.steps);
  EXPECT_EQ(metrics_of(resumed).back()["watch_tokens_learned"], metrics_of(full).back()["watch_tokens_learned"]);
}

TEST(ContinualWatch, WaitsForFilesRenamedInWhileItRuns) {
  TempDir dir;
  fs::create_directories(dir.sub("inbox"));
  RunConfig c = watch_config(dir, "run");
  c.phases[1].continual.idle_timeout_s = 3.0;
  c.phases[1].continual.watch_poll_s = 0.05;
  // Once pre-training's boundary checkpoint exists, a writer puts the file
  // under a hidden name and renames it in.
  std::thread writer([&] {
    const std::string boundary = checkpoint_of(c, kPretrainSteps);
    for (int i = 0; i < 6000 && !fs::exists(boundary); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::ofstream(dir.sub("inbox/.late.txt")) << task_text(80, 6, false);
    fs::rename(dir.sub("inbox/.late.txt"), dir.sub("inbox/late.txt"));
  });
  const TrainReport r = run(c);
  writer.join();
  const auto lines = metrics_of(r);
  EXPECT_EQ(lines.back()["watch_files"].get<std::int64_t>(), 1);
  EXPECT_EQ(lines.back()["watch_tokens_learned"].get<std::int64_t>(), (task_tokens(80, 6) - 1) / 64 * 64);
  // The phase's first step waited for the file.
  const auto first =
      std::find_if(lines.begin(), lines.end(), [](const nlohmann::json& l) { return l.contains("watch_wait_s"); });
  ASSERT_NE(first, lines.end());
  EXPECT_GT((*first)["watch_wait_s"].get<double>(), 0.1);
  EXPECT_EQ((*first)["watch_new_windows"].get<std::int64_t>(), 6);
}

// The idle clock (idle_timeout_s) runs only while the stream is short of what
// a step wants and no file has arrived since: a phase busy learning a big
// file is never idle.
TEST(WatchedStream, IdleCountsOnlyWhileShortOfDataSinceTheLastFile) {
  TempDir dir;
  fs::create_directories(dir.sub("inbox"));
  std::ofstream(dir.sub("inbox/a.txt")) << task_text(40, 1, false);  // 16-token windows: > 10 of them
  const CharTokenizer tok = CharTokenizer::reasoning();
  WatchedStream stream(dir.sub("inbox"), WatchProtocol::Rename, 16, tok, tok.vocab_size());
  TrainRanks ranks;
  auto be = make_backend(Device::CPU);
  const auto pause = [] { std::this_thread::sleep_for(std::chrono::milliseconds(120)); };
  WatchPoll p = stream.poll(ranks, *be, 2);
  ASSERT_EQ(p.added.size(), 1u);
  EXPECT_EQ(p.idle_s, 0.0);
  pause();
  EXPECT_EQ(stream.poll(ranks, *be, 2).idle_s, 0.0);  // enough data: not idle however long it takes
  stream.consume(stream.windows_ready() - 1);
  EXPECT_LT(stream.poll(ranks, *be, 2).idle_s, 0.1);  // short from now on
  pause();
  EXPECT_GE(stream.poll(ranks, *be, 2).idle_s, 0.1);
  std::ofstream(dir.sub("inbox/.b.txt")) << task_text(2, 2, false);  // a file too small to end the shortage
  fs::rename(dir.sub("inbox/.b.txt"), dir.sub("inbox/b.txt"));
  p = stream.poll(ranks, *be, 2);
  ASSERT_EQ(p.added.size(), 1u);
  EXPECT_LT(p.idle_s, 0.1);  // a new file restarts the clock
  EXPECT_EQ(stream.ledger().size(), 2u);
  EXPECT_TRUE(stream.poll(ranks, *be, 2).added.empty());  // each file once
}

// on_idle = replay never waits: with nothing in the directory every row of a
// step is replayed, and the phase runs its steps.
TEST(ContinualWatch, ReplayWhenIdleTrainsOnReplayedRowsWithoutWaiting) {
  TempDir dir;
  fs::create_directories(dir.sub("inbox"));
  RunConfig c = watch_config(dir, "run");
  c.phases[1].steps = 3;
  c.phases[1].continual.on_idle = "replay";
  c.phases[1].continual.idle_timeout_s = 0;  // never ends early
  const TrainReport r = run(c);
  EXPECT_EQ(r.steps, kPretrainSteps + 3);
  int steps = 0;
  for (const auto& l : metrics_of(r)) {
    if (!l.contains("watch_new_windows")) continue;
    ++steps;
    EXPECT_EQ(l["watch_new_windows"].get<std::int64_t>(), 0);
    EXPECT_EQ(l["replay_rows"].get<std::int64_t>(), c.train.batch_size);
    EXPECT_LT(l["watch_wait_s"].get<double>(), 0.5);
  }
  EXPECT_EQ(steps, 3);
}

}  // namespace
}  // namespace pouch
