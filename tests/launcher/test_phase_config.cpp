// [phase.N] sections: parsing, kinds, required keys, overrides, round trip.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "launcher/config_parser.h"
#include "phases/schedule/phase_validation.h"
#include "phases/schedule/schedule_runner.h"
#include "runtime/error.h"
#include "tests/support/error_of.h"

namespace pouch {
namespace {

constexpr const char* kSchedule = R"(
[model]
vocab_size = 31
[phase.1]
kind = pretrain
steps = 100
curriculum = root
quality_sampling = true
[phase.2]
kind = grpo
steps = 20   # alignment
samples_per_prompt = 8
[phase.3]
kind = continual
steps = 50
isolation = none
ewc_lambda = 10
)";

RunConfig parse(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return parse_run_config({{"test.ini", text}}, overrides);
}

std::string error(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return error_of([&] { parse(text, overrides); });
}

bool contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

TEST(PhaseConfig, SectionsParseInOrderWithTheirKinds) {
  const RunConfig c = parse(kSchedule);
  ASSERT_EQ(c.phases.size(), 3u);
  EXPECT_EQ(c.phases[0].kind, PhaseKind::Pretrain);
  EXPECT_EQ(c.phases[0].steps, 100);
  EXPECT_EQ(c.phases[0].pretrain.curriculum, "root");
  EXPECT_TRUE(c.phases[0].pretrain.quality_sampling);
  EXPECT_EQ(c.phases[1].kind, PhaseKind::Grpo);
  EXPECT_EQ(c.phases[1].align.samples_per_prompt, 8);
  EXPECT_EQ(c.phases[2].continual.isolation, "none");
  EXPECT_DOUBLE_EQ(c.phases[2].continual.ewc_lambda, 10.0);
  const auto schedule = schedule_of(c);
  EXPECT_EQ(schedule.size(), 3u);
}

TEST(PhaseConfig, WithoutSectionsTheRunIsOnePretrainPhase) {
  const RunConfig c = parse("[train]\nsteps = 7\n");
  EXPECT_TRUE(c.phases.empty());
  const auto schedule = schedule_of(c);
  ASSERT_EQ(schedule.size(), 1u);
  EXPECT_EQ(schedule[0].kind, PhaseKind::Pretrain);
  EXPECT_EQ(schedule[0].steps, 7);
}

TEST(PhaseConfig, OverridesSetPhaseKeys) {
  const RunConfig c = parse(kSchedule, {"--phase.2.steps=5", "--phase.1.curriculum", "linear", "--phase.3.recompute"});
  EXPECT_EQ(c.phases[1].steps, 5);
  EXPECT_EQ(c.phases[0].pretrain.curriculum, "linear");
  EXPECT_TRUE(c.phases[2].continual.recompute);
}

TEST(PhaseConfig, ToIniRoundTrips) {
  const RunConfig c = parse(kSchedule, {"--phase.2.kl_coef=0.1", "--phase.1.source_weights=simple*0.5"});
  const std::string ini = run_config_to_ini(c);
  const RunConfig back = parse_run_config({{"round trip", ini}}, {});
  EXPECT_EQ(run_config_to_ini(back), ini);
  ASSERT_EQ(back.phases.size(), 3u);
  EXPECT_DOUBLE_EQ(back.phases[1].align.kl_coef, 0.1);
  EXPECT_EQ(back.phases[0].pretrain.source_weights, "simple*0.5");
}

TEST(PhaseConfigErrors, UnknownKindAndKey) {
  EXPECT_TRUE(contains(error("[phase.1]\nkind = dpo\nsteps = 1\n"), "unknown phase kind"));
  const std::string e = error("[phase.1]\nkind = ppo\nsteps = 1\nkl_coeff = 1\n");
  EXPECT_TRUE(contains(e, "test.ini:4")) << e;
  EXPECT_TRUE(contains(e, "did you mean 'kl_coef'")) << e;
  EXPECT_TRUE(contains(error(kSchedule, {"--phase.1.nope=1"}), "unknown phase key 'phase.1.nope'"));
}

TEST(PhaseConfigErrors, KeyOfAnotherKind) {
  const std::string e = error(kSchedule, {"--phase.2.curriculum=linear"});
  EXPECT_TRUE(contains(e, "phase.2.curriculum")) << e;
  EXPECT_TRUE(contains(e, "is not a key of a grpo phase: it belongs to pretrain phases")) << e;
}

TEST(PhaseConfigErrors, RequiredKeysAndNumbering) {
  EXPECT_TRUE(contains(error("[phase.1]\nsteps = 3\n"), "[phase.1] has no kind"));
  EXPECT_TRUE(contains(error("[phase.1]\nkind = pretrain\n"), "[phase.1] (pretrain) has no steps"));
  EXPECT_TRUE(contains(error("[phase.2]\nkind = pretrain\nsteps = 1\n"), "has no [phase.1] before it"));
  EXPECT_TRUE(contains(error("[phase.x]\nkind = pretrain\n"), "is not a phase section"));
  EXPECT_TRUE(contains(error(kSchedule, {"--phase.4.steps=2"}), "[phase.4] has no kind"));
}

TEST(PhaseConfigErrors, TrainStepsConflictsWithASchedule) {
  const std::string e = error(kSchedule, {"--train.steps=10"});
  EXPECT_TRUE(contains(e, "set phase.N.steps")) << e;
}

TEST(PhaseConfigErrors, ValueRangesNameTheKey) {
  EXPECT_TRUE(contains(error(kSchedule, {"--phase.2.samples_per_prompt=1"}), "phase.2.samples_per_prompt = 1"));
  EXPECT_TRUE(contains(error(kSchedule, {"--phase.1.precision=fp8"}), "must be fp32, bf16 or fp16"));
  EXPECT_TRUE(contains(error(kSchedule, {"--phase.3.isolation=lora"}), "EWC regularises the shared weights"));
  const RunConfig own_data = parse(kSchedule, {"--data.path=x.bin"});  // checked when a phase is about to run
  EXPECT_TRUE(contains(error_of([&] { check_phase_data(own_data.phases[0], own_data); }), "--phase.1.curriculum=none"));
  EXPECT_TRUE(
      contains(error_of([&] { check_phase_data(own_data.phases[1], own_data); }), "needs the built-in reasoning task"));
  EXPECT_TRUE(contains(error(kSchedule, {"--phase.1.curriculum_boundaries=5,x"}), "phase.1.curriculum_boundaries"));
  EXPECT_TRUE(contains(error(kSchedule, {"--phase.1.source_weights=simple/2"}), "phase.1.source_weights"));
  EXPECT_TRUE(contains(error(kSchedule, {"--phase.2.reward_weights=accuracy=x"}), "phase.2.reward_weights"));
  EXPECT_TRUE(contains(error(kSchedule, {"--phase.2.reward_eval_prompts=-1"}), "phase.2.reward_eval_prompts = -1"));
  EXPECT_TRUE(contains(error(kSchedule, {"--phase.3.lora_plus_ratio=0"}), "phase.3.lora_plus_ratio = 0"));
}

TEST(PhaseRange, ParsesListsAndRanges) {
  using Range = std::pair<std::int64_t, std::int64_t>;
  EXPECT_EQ(parse_phase_range("2,3", 3), Range(2, 3));
  EXPECT_EQ(parse_phase_range("1-3", 3), Range(1, 3));
  EXPECT_EQ(parse_phase_range("2", 3), Range(2, 2));
  EXPECT_TRUE(contains(error_of([] { parse_phase_range("1,3", 3); }), "consecutive"));
  EXPECT_TRUE(contains(error_of([] { parse_phase_range("4", 3); }), "it has phases 1..3"));
}

}  // namespace
}  // namespace pouch
