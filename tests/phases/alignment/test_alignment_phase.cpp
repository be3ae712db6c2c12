// The alignment phases (ppo, grpo) end to end through train(): a tiny model
// pretrained a few dozen steps, then a few alignment steps. Checks the
// metrics, that the policy moved and the reference did not, bitwise resume
// inside the phase, and the KL ceiling's stop and rollback.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_dir.h"
#include "checkpoint/training_checkpoint.h"
#include "model/gpt.h"
#include "phases/schedule/schedule_runner.h"
#include "runtime/backend.h"
#include "tests/support/temp_dir.h"

namespace pouch {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kPretrainSteps = 25;

using testing::TempDir;

RunConfig tiny_config(const std::string& run_dir, PhaseKind kind, std::int64_t align_steps) {
  RunConfig c;
  c.model.layers = 2;
  c.model.d_model = 32;
  c.model.heads = 2;
  c.model.seq_len = 48;
  c.model.vocab_size = 31;
  c.train.name = "align-test";
  c.train.run_dir = run_dir;
  c.train.batch_size = 8;
  c.train.seed = 11;
  c.train.threads = 1;
  c.train.eval_every = 0;
  c.data.task_max_level = 2;
  c.data.task_train_samples = 2000;
  c.data.task_eval_per_level = 3;
  c.data.task_corrupt_fraction = 0.0f;
  c.optim.lr = 3e-3f;
  c.optim.warmup_steps = 0;
  c.log.every = 1000;
  c.log.peak_gflops = 1.0;  // no sgemm measurement
  c.checkpoint.keep_last = 0;
  PhaseConfig pre;
  pre.index = 1;
  pre.kind = PhaseKind::Pretrain;
  pre.steps = kPretrainSteps;
  PhaseConfig al;
  al.index = 2;
  al.kind = kind;
  al.steps = align_steps;
  al.align.prompts_per_step = 4;
  al.align.samples_per_prompt = 2;
  al.align.max_new_tokens = 20;
  al.align.epochs = 2;
  al.align.minibatches = 2;
  c.phases = {pre, al};
  return c;
}

std::string checkpoint_of(const RunConfig& cfg, std::int64_t step) {
  return (fs::path(resolve_checkpoint_dir(cfg)) / step_dir_name(step) / "state.h5").string();
}

// Every tensor of a checkpoint (/model, /optim m and v, /phase) and its f64
// rows, by name, to compare two checkpoints exactly.
struct CheckpointContents {
  std::map<std::string, std::vector<float>> tensors;
  std::map<std::string, std::vector<double>> f64;
  std::int64_t optim_step = 0;
};

std::vector<float> values_of(const Tensor& t) { return std::vector<float>(t.f32(), t.f32() + t.numel()); }

CheckpointContents read_contents(const RunConfig& cfg, const std::string& path) {
  auto be = make_backend(Device::CPU);
  GPT shape_source(cfg.model, *be);
  CheckpointState s;
  for (const auto& p : shape_source.parameters()) {
    s.model.push_back({p.name, p.full_shape, p.shard, Tensor()});
    s.optim_m.push_back({p.name, p.full_shape, p.shard, Tensor()});
    s.optim_v.push_back({p.name, p.full_shape, p.shard, Tensor()});
  }
  for (const auto& [name, shape] : list_phase_tensors(path))
    s.phase.push_back({name, shape, ShardSpec::replicated(), Tensor()});
  read_checkpoint_file(path, s);
  CheckpointContents c;
  for (const auto& t : s.model) c.tensors["model/" + t.name] = values_of(t.local);
  for (const auto& t : s.optim_m) c.tensors["m/" + t.name] = values_of(t.local);
  for (const auto& t : s.optim_v) c.tensors["v/" + t.name] = values_of(t.local);
  for (const auto& t : s.phase) c.tensors["phase/" + t.name] = values_of(t.local);
  c.f64 = s.f64_per_rank;
  c.optim_step = s.optim_step;
  return c;
}

std::vector<nlohmann::json> phase_metrics(const TrainReport& r, int phase) {
  std::vector<nlohmann::json> out;
  std::ifstream in(r.metrics_path);
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.value("phase", 0) == phase) out.push_back(j);
  }
  return out;
}

bool same_model(const CheckpointContents& a, const CheckpointContents& b, const std::string& a_prefix = "model/") {
  for (const auto& [name, v] : b.tensors) {
    if (name.rfind("model/", 0) != 0) continue;
    const auto it = a.tensors.find(a_prefix + name.substr(6));
    if (it == a.tensors.end() || it->second != v) return false;
  }
  return true;
}

TrainReport run(const RunConfig& cfg, const TrainStart& start = {}) {
  auto be = make_backend(Device::CPU);
  return train(cfg, "", *be, {}, start);
}

void check_alignment_run(PhaseKind kind, const std::string& value_head) {
  TempDir dir;
  RunConfig cfg = tiny_config(dir.sub("run"), kind, 3);
  cfg.phases[1].align.value_head = value_head;
  const TrainReport r = run(cfg);
  EXPECT_EQ(r.steps, kPretrainSteps + 3);

  const auto lines = phase_metrics(r, 2);
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& j : lines) {
    for (const char* key : {"reward", "reward_accuracy", "reward_coherence", "reward_harmless", "reward_diversity",
                            "reward_efficiency", "rollout_accuracy", "response_length", "kl", "kl_coef", "entropy",
                            "clip_fraction", "approx_kl", "policy_loss"})
      ASSERT_TRUE(j.contains(key)) << key << " missing in " << j.dump();
    const double kl = j["kl"].get<double>();
    EXPECT_TRUE(std::isfinite(kl) && kl >= 0.0) << kl;
    EXPECT_GT(j["entropy"].get<double>(), 0.0);
    EXPECT_GT(j["response_length"].get<double>(), 0.0);
    const double reward = j["reward"].get<double>();
    EXPECT_TRUE(reward >= 0.0 && reward <= 1.0) << reward;
    EXPECT_EQ(j.contains("value_loss"), kind == PhaseKind::Ppo);
  }
  // The held-out reward, measured at the start and the end on the same
  // prompts and sampling streams, is in the last line only.
  for (const char* key : {"held_out_reward", "held_out_reward_before", "held_out_reward_accuracy",
                          "held_out_reward_accuracy_before", "held_out_reward_diversity"}) {
    ASSERT_TRUE(lines.back().contains(key)) << key << " missing in " << lines.back().dump();
    const double v = lines.back()[key].get<double>();
    EXPECT_TRUE(v >= 0.0 && v <= 1.0) << key << " = " << v;
    EXPECT_FALSE(lines.front().contains(key)) << key;
  }
  EXPECT_NE(lines.back()["held_out_reward"].get<double>(), lines.back()["held_out_reward_before"].get<double>())
      << "the policy moved, so its samples should have";
  EXPECT_EQ(lines.front()["kl"].get<double>(), 0.0);  // the first rollout's policy is the reference
  EXPECT_GT(lines.back()["kl"].get<double>(), 0.0);

  const CheckpointContents start = read_contents(cfg, checkpoint_of(cfg, kPretrainSteps));
  const CheckpointContents end = read_contents(cfg, checkpoint_of(cfg, kPretrainSteps + 3));
  EXPECT_FALSE(same_model(end, start)) << "the policy did not move";
  EXPECT_TRUE(same_model(end, start, "phase/ppo/ref/")) << "the reference is not the phase's starting weights";
  EXPECT_EQ(end.tensors.count("phase/ppo/value_head/value_head.weight"), kind == PhaseKind::Ppo ? 1u : 0u);
  EXPECT_EQ(end.tensors.count("phase/ppo/critic/wpe"), value_head == "separate" ? 1u : 0u);
  EXPECT_EQ(end.tensors.count("phase/ppo/critic_adam_v/wpe"), value_head == "separate" ? 1u : 0u);
}

TEST(AlignmentPhase, PpoRunsAndMovesThePolicyNotTheReference) { check_alignment_run(PhaseKind::Ppo, "shared"); }

TEST(AlignmentPhase, PpoWithASeparateCritic) { check_alignment_run(PhaseKind::Ppo, "separate"); }

TEST(AlignmentPhase, GrpoRunsAndMovesThePolicyNotTheReference) { check_alignment_run(PhaseKind::Grpo, "shared"); }

// 4 steps straight vs 2 steps + resume from the step-2 checkpoint (copied
// into a fresh run): the final checkpoints match bit for bit, phase state
// included (reference, value head / critic and their AdamW moments, the
// adaptive KL coefficient).
void check_bitwise_resume(PhaseKind kind, const std::string& value_head) {
  TempDir dir;
  RunConfig a = tiny_config(dir.sub("straight"), kind, 4);
  a.checkpoint.every_steps = 1;
  a.phases[1].align.value_head = value_head;
  a.phases[1].align.kl_target = 0.01;  // adaptive: the coefficient is state
  const TrainReport run_report_a = run(a);

  RunConfig b = a;
  b.train.run_dir = dir.sub("resumed");
  const std::int64_t mid = kPretrainSteps + 2;
  fs::create_directories(resolve_checkpoint_dir(b));
  fs::copy(fs::path(checkpoint_of(a, mid)).parent_path(), fs::path(resolve_checkpoint_dir(b)) / step_dir_name(mid),
           fs::copy_options::recursive);
  const TrainReport rb = run(b, TrainStart{"auto"});
  EXPECT_EQ(rb.resumed_from_step, mid);
  ASSERT_EQ(rb.phases.size(), 1u);
  EXPECT_EQ(rb.phases[0].first_step, mid);

  const CheckpointContents ca = read_contents(a, checkpoint_of(a, kPretrainSteps + 4));
  const CheckpointContents cb = read_contents(b, checkpoint_of(b, kPretrainSteps + 4));
  ASSERT_EQ(ca.tensors.size(), cb.tensors.size());
  for (const auto& [name, v] : ca.tensors) {
    ASSERT_TRUE(cb.tensors.count(name)) << name;
    EXPECT_TRUE(cb.tensors.at(name) == v) << name << " differs after the resume";
  }
  EXPECT_EQ(ca.f64, cb.f64);
  EXPECT_EQ(ca.f64.count("align_held_out_reward"), 1u);
  // The held-out reward at the end compares with the one measured before the
  // interruption, restored from the checkpoint.
  const auto la = phase_metrics(run_report_a, 2), lb = phase_metrics(rb, 2);
  ASSERT_FALSE(la.empty());
  ASSERT_FALSE(lb.empty());
  EXPECT_EQ(la.back()["held_out_reward_before"], lb.back()["held_out_reward_before"]);
  EXPECT_EQ(la.back()["held_out_reward"], lb.back()["held_out_reward"]);
  EXPECT_EQ(ca.optim_step, cb.optim_step);
  EXPECT_NE(ca.f64.at("kl_coef"), (std::vector<double>{0.05}));  // it did adapt
  // And the resumed run moved past the copied state.
  EXPECT_FALSE(same_model(ca, read_contents(a, checkpoint_of(a, mid))));
}

TEST(AlignmentPhase, PpoResumesBitwiseInsideThePhase) { check_bitwise_resume(PhaseKind::Ppo, "separate"); }

TEST(AlignmentPhase, GrpoResumesBitwiseInsideThePhase) { check_bitwise_resume(PhaseKind::Grpo, "shared"); }

// A ceiling below any KL an update can leave: the first step trips it and
// the phase ends, declared finished at its last step.
void check_kl_ceiling(const std::string& action) {
  TempDir dir;
  RunConfig cfg = tiny_config(dir.sub("run"), PhaseKind::Ppo, 5);
  cfg.phases[1].align.kl_ceiling = 1e-12;
  cfg.phases[1].align.kl_ceiling_action = action;
  const TrainReport r = run(cfg);
  EXPECT_EQ(r.steps, kPretrainSteps + 5);
  const auto lines = phase_metrics(r, 2);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0].value("kl_ceiling_hit", false));
  EXPECT_GT(lines[0]["kl_after"].get<double>(), 1e-12);
  // The boundary checkpoint is stamped at the phase's last step, so a resume
  // finds the phase done.
  ASSERT_TRUE(fs::exists(checkpoint_of(cfg, kPretrainSteps + 5)));
  const CheckpointContents start = read_contents(cfg, checkpoint_of(cfg, kPretrainSteps));
  const CheckpointContents end = read_contents(cfg, checkpoint_of(cfg, kPretrainSteps + 5));
  EXPECT_EQ(same_model(end, start), action == "rollback");
  const TrainReport again = run(cfg, TrainStart{"auto"});
  EXPECT_TRUE(again.already_finished);
}

TEST(AlignmentPhase, KlCeilingStopKeepsTheUpdateAndEndsThePhase) { check_kl_ceiling("stop"); }

TEST(AlignmentPhase, KlCeilingRollbackRestoresTheWeightsAndEndsThePhase) { check_kl_ceiling("rollback"); }

}  // namespace
}  // namespace pouch
