// Every rule of a schedule fails before the first step, naming the key and
// where it was set: each rule broken in a 3-phase schedule (pretrain, grpo or
// ppo, continual), once in an INI file (file:line) and once on the command
// line (--phase.N.key), through `pouch train`'s own entry point in-process.
// Phase 1 has 2,500 steps, so a rule checked only when its phase starts would
// run for minutes; each case must fail in under 2 s and leave no run
// directory (nothing written, no step run).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "launcher/commands.h"
#include "launcher/config_parser.h"
#include "phases/schedule/phase_validation.h"
#include "runtime/error.h"
#include "tests/support/error_of.h"
#include "tests/support/temp_dir.h"

namespace pouch {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Valid as it stands (ValidSchedulePassesEveryRule checks it), so each case
// below fails by its own rule only.
constexpr const char* kSchedule = R"([model]
layers = 1
d_model = 32
heads = 2
seq_len = 64
vocab_size = 31
[train]
batch_size = 4
threads = 1
[data]
task_train_samples = 2000
[log]
peak_gflops = 100
[phase.1]
kind = pretrain
steps = 2500
[phase.2]
kind = grpo
steps = 40
[phase.3]
kind = continual
steps = 1200
)";

struct BrokenRule {
  std::string key;                     // "phase.2.minibatches": section "phase.2", key "minibatches"
  std::string value;                   // what breaks it
  std::string says;                    // a piece of the message: the rule or its fix
  std::vector<std::string> with = {};  // other keys of the same section set first ("kind = ppo")
};

const std::vector<BrokenRule>& broken_rules() {
  static const std::vector<BrokenRule> rules = {
      // The issue's example: 3 does not divide the 16 x 4 rollouts of the one rank.
      {"phase.2.minibatches", "3", "choose one of 1, 2, 4, 8, 16, 32, 64"},
      {"phase.2.minibatches", "0", "must be positive"},
      // Structure: the kind/key table and the sections.
      {"phase.2.curriculum", "linear", "is not a key of a grpo phase: it belongs to pretrain phases"},
      {"phase.2.precision", "bf16", "is not a key of a grpo phase"},
      {"phase.3.prompts_per_step", "8", "is not a key of a continual phase"},
      {"phase.4.steps", "2", "[phase.4] has no kind"},
      {"phase.5.kind", "pretrain", "has no [phase.4] before it", {"steps = 1"}},
      {"train.steps", "10", "set phase.N.steps"},
      // Keys every kind has.
      {"phase.2.steps", "0", "must be a positive integer"},
      {"phase.3.lr", "-1", "must be 0 (optim.lr) or positive"},
      {"phase.2.warmup_steps", "-2", "must be -1 (optim.warmup_steps)"},
      {"phase.3.eval_every", "-2", "must be -1 (train.eval_every), 0 (off) or positive"},
      {"phase.3.precision", "fp8", "must be fp32, bf16 or fp16"},
      {"phase.3.loss_scale_init", "0.5", "must be at least 1"},
      {"phase.3.loss_scale_window", "0", "must be positive"},
      // pretrain (phase 1 is the schedule's only pretrain phase).
      {"phase.1.curriculum", "steep", "is not a curriculum pacing"},
      {"phase.1.curriculum_degree", "0", "must be positive", {"curriculum = root"}},
      {"phase.1.curriculum_fraction", "0", "must be in (0, 1]"},
      {"phase.1.curriculum_min_level", "4", "must be at least", {"curriculum = linear", "curriculum_max_level = 3"}},
      {"phase.1.curriculum_max_level", "9", "is above data.task_max_level = 5"},
      {"phase.1.curriculum_boundaries", "5,x", "is not a step"},
      {"phase.1.curriculum_boundaries", "300,600", "need 4", {"curriculum = fixed_discrete"}},
      {"phase.1.curriculum_boundaries", "300,600,900,1200", "does not use it"},
      {"phase.1.source_weights", "simple/2", "phase.1.source_weights = 'simple/2'"},
      {"phase.1.quality_temperature", "0", "must be positive"},
      {"phase.1.quality_growth", "-1", "must be 0 or more"},
      // grpo / ppo.
      {"phase.2.prompts_per_step", "0", "must be a positive integer"},
      {"phase.2.samples_per_prompt", "1", "grpo: at least 2"},
      {"phase.2.max_new_tokens", "0", "must be positive"},
      {"phase.2.temperature", "0", "greedy rollouts cannot explore"},
      {"phase.2.top_p", "1.5", "must be in (0, 1]"},
      {"phase.2.epochs", "0", "must be positive"},
      {"phase.2.clip_eps", "1", "must be in (0, 1)"},
      {"phase.2.value_clip", "0", "must be positive", {"kind = ppo"}},
      {"phase.2.vf_coef", "-1", "must be 0 or more", {"kind = ppo"}},
      {"phase.2.gamma", "0", "must be in (0, 1]", {"kind = ppo"}},
      {"phase.2.lambda", "2", "must be in [0, 1]", {"kind = ppo"}},
      {"phase.2.value_head", "twin", "must be shared or separate", {"kind = ppo"}},
      {"phase.2.kl_coef", "-0.5", "must be -1 (the kind's default) or 0 or more"},
      {"phase.2.kl_estimator", "k2", "must be k1 or k3"},
      {"phase.2.kl_estimator", "k1", "only k3 acts as one"},
      {"phase.2.kl_target", "-1", "must be 0 (fixed) or positive"},
      {"phase.2.kl_horizon", "0", "must be positive"},
      {"phase.2.kl_ceiling", "-1", "must be 0 (off) or positive"},
      {"phase.2.kl_ceiling_action", "explode", "must be stop or rollback"},
      {"phase.2.reward_weights", "accuracy=x", "not a number"},
      {"phase.2.reward_weights", "accuracy=0", "every reward weight is zero"},
      {"phase.2.reward_weights", "speed=1", "is no reward dimension"},
      {"phase.2.reward_length_budget", "0", "must be positive"},
      {"phase.2.reward_diversity_n", "0", "must be positive"},
      {"phase.2.reward_eval_prompts", "-1", "a number of prompts (0 = off)"},
      {"phase.2.prompt_max_level", "9", "at most data.task_max_level = 5"},
      {"phase.2.prompt_min_level", "0", "must be between 1 and the prompt max level 5"},
      // continual.
      {"phase.3.new_level", "4", "is among the levels pre-training saw (data.task_max_level = 5"},
      {"phase.3.new_level", "7", "must be a level of the built-in task, 1..6"},
      {"phase.3.new_samples", "0", "must be positive"},
      {"phase.3.isolation", "frozen", "must be lora or none"},
      {"phase.3.lora_rank", "0", "must be positive"},
      {"phase.3.lora_alpha", "0", "must be positive"},
      {"phase.3.lora_plus_ratio", "0", "must be positive (1 = plain LoRA)"},
      {"phase.3.lora_targets", "qkv,fc2", "'fc2' is no projection"},
      {"phase.3.lora_targets", ",", "isolation = lora needs adapters somewhere"},
      {"phase.3.replay_ratio", "1", "must be in [0, 1)"},
      // llround(4 x 0.9) = 4 of train.batch_size's 4 rows would be replayed.
      {"phase.3.replay_ratio", "0.9", "leaves none of the 4 rows of a batch (train.batch_size = 4"},
      {"phase.3.ewc_lambda", "1", "isolation = lora freezes"},
      {"phase.3.ewc_lambda", "-1", "must be 0 (off) or positive", {"isolation = none"}},
      {"phase.3.ewc_batches", "0", "must be positive"},
      {"phase.3.publish_every", "-1", "must be 0 (at the end only) or positive"},
      {"phase.3.watch_dir", "no-such-dir", "does not exist: create the directory"},
      {"phase.3.watch_protocol", "marker", "must be rename", {"watch_dir = ."}},
      {"phase.3.on_idle", "sleep", "must be wait", {"watch_dir = ."}},
      {"phase.3.idle_timeout_s", "-1", "must be 0 or positive", {"watch_dir = ."}},
      {"phase.3.watch_poll_s", "0", "must be in (0, 3600] seconds", {"watch_dir = ."}},
      // Cross-key rules with the other sections.
      {"model.vocab_size", "20", "smaller than the built-in reasoning task's vocabulary of 31"},
      {"data.path", "shards.bin", "phase 2 (grpo) needs the built-in reasoning task"},
  };
  return rules;
}

std::string section_of(const std::string& key) { return key.substr(0, key.rfind('.')); }
std::string name_in_section(const std::string& key) { return key.substr(key.rfind('.') + 1); }

struct Outcome {
  std::string message;
  double seconds = 0.0;
  bool wrote_run_dir = false;
};

// `pouch train --config schedule.ini [--config broken.ini] args...` in-process.
Outcome run_train(const TempDir& dir, const std::vector<std::string>& extra_config,
                  const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"--config", dir.write("schedule.ini", kSchedule)};
  for (const auto& path : extra_config) argv.insert(argv.end(), {"--config", path});
  const std::string run_dir = dir.file("run");
  argv.push_back("--train.run_dir=" + run_dir);
  argv.insert(argv.end(), args.begin(), args.end());
  const auto start = std::chrono::steady_clock::now();
  Outcome out;
  out.message = error_of([&] { run_train_command(argv); });
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.wrote_run_dir = fs::exists(run_dir);
  return out;
}

void expect_early_failure(const Outcome& out, const BrokenRule& rule, const std::string& origin) {
  // "[phase.4] has no kind" names the section; every other message the key.
  const std::string names = rule.key.starts_with("phase.5") ? "[phase.5]" : rule.key;
  EXPECT_NE(out.message.find(names), std::string::npos) << rule.key << "=" << rule.value << ": " << out.message;
  EXPECT_NE(out.message.find(origin), std::string::npos)
      << rule.key << "=" << rule.value << ": no '" << origin << "' in: " << out.message;
  EXPECT_NE(out.message.find(rule.says), std::string::npos)
      << rule.key << "=" << rule.value << ": no '" << rule.says << "' in: " << out.message;
  EXPECT_LT(out.seconds, 2.0) << rule.key << "=" << rule.value;
  EXPECT_FALSE(out.wrote_run_dir) << rule.key << "=" << rule.value << ": the run started";
}

TEST(PhaseValidation, ValidSchedulePassesEveryRule) {
  const LoadedConfig loaded = parse_run_config_with_origins({{"schedule.ini", kSchedule}}, {});
  EXPECT_NO_THROW(validate_schedule(loaded.config, loaded.origins, {1, 1, 3}));
  // And with the keys the ppo cases set.
  const LoadedConfig ppo = parse_run_config_with_origins({{"schedule.ini", kSchedule}}, {"--phase.2.kind=ppo"});
  EXPECT_NO_THROW(validate_schedule(ppo.config, ppo.origins, {1, 1, 3}));
}

TEST(PhaseValidation, EachRuleBrokenInAFileFailsBeforeTheFirstStepNamingFileAndLine) {
  for (const BrokenRule& rule : broken_rules()) {
    TempDir dir;
    std::string text = fmt::format("[{}]\n", section_of(rule.key));
    for (const auto& line : rule.with) text += line + "\n";
    text += fmt::format("{} = {}\n", name_in_section(rule.key), rule.value);
    const std::string line = fmt::format("broken.ini:{}", 2 + rule.with.size());
    expect_early_failure(run_train(dir, {dir.write("broken.ini", text)}, {}), rule, line);
  }
}

TEST(PhaseValidation, EachRuleBrokenOnTheCommandLineFailsBeforeTheFirstStepNamingTheFlag) {
  for (const BrokenRule& rule : broken_rules()) {
    TempDir dir;
    std::vector<std::string> args;
    for (const auto& line : rule.with) {
      const auto eq = line.find(" = ");
      args.push_back(fmt::format("--{}.{}={}", section_of(rule.key), line.substr(0, eq), line.substr(eq + 3)));
    }
    args.push_back(fmt::format("--{}={}", rule.key, rule.value));
    expect_early_failure(run_train(dir, {}, args), rule, "--" + rule.key);
  }
}

// Rules a file cannot break: '#' starts a comment there, and the kind/key
// table keeps precision out of an alignment section.
TEST(PhaseValidation, RulesOnlyTheCommandLineOrCodeCanBreak) {
  TempDir dir;
  const Outcome out = run_train(dir, {}, {"--phase.2.reward_lexicon=kill#hate"});
  EXPECT_NE(out.message.find("phase.2.reward_lexicon = 'kill#hate' (set on the command line as "
                             "--phase.2.reward_lexicon): a value must not contain '#'"),
            std::string::npos)
      << out.message;
  EXPECT_FALSE(out.wrote_run_dir);
  LoadedConfig c = parse_run_config_with_origins({{"schedule.ini", kSchedule}}, {});
  c.config.phases[1].precision = "bf16";
  const std::string e = error_of([&] { validate_schedule(c.config, {}, {1, 1, 3}); });
  EXPECT_NE(e.find("phase.2.precision = bf16 (as configured): alignment phases train in fp32 only"), std::string::npos)
      << e;
}

// A rule the config alone decides holds for every phase, also one --phases
// leaves for later: that run would read the same config.
TEST(PhaseValidation, PhasesNotRunNowAreCheckedToo) {
  TempDir dir;
  const Outcome out = run_train(dir, {}, {"--phases=1", "--phase.3.new_level=3"});
  EXPECT_NE(out.message.find("--phase.3.new_level"), std::string::npos) << out.message;
  EXPECT_FALSE(out.wrote_run_dir);
}

// What depends on the invocation (the world's data-parallel degree, token
// shards in data.path) is checked for the phases it runs.
TEST(PhaseValidation, DataParallelRulesNameTheKeyForThePhasesThatRun) {
  const LoadedConfig c = parse_run_config_with_origins(
      {{"schedule.ini", kSchedule}, {"dp.ini", "[train]\nbatch_size = 6\n[phase.2]\nprompts_per_step = 3\n"}}, {});
  std::string e = error_of([&] { validate_schedule(c.config, c.origins, {2, 1, 3}); });
  EXPECT_NE(e.find("phase.2.prompts_per_step = 3 (set in dp.ini:4) is not divisible by the data-parallel degree 2"),
            std::string::npos)
      << e;
  EXPECT_NO_THROW(validate_schedule(c.config, c.origins, {3, 1, 3}));  // 3 | 3 and 3 | 6
  EXPECT_NO_THROW(validate_schedule(c.config, c.origins, {2, 3, 3}));  // phase 2 runs later, maybe on one rank
  const LoadedConfig odd = parse_run_config_with_origins({{"schedule.ini", kSchedule}}, {"--train.batch_size=3"});
  e = error_of([&] { validate_schedule(odd.config, odd.origins, {2, 3, 3}); });
  EXPECT_NE(e.find("train.batch_size = 3 is not divisible by the data-parallel degree 2"), std::string::npos) << e;
  EXPECT_NE(e.find("--train.batch_size"), std::string::npos) << e;
  EXPECT_NE(e.find("phase 3 (continual)"), std::string::npos) << e;
  // minibatches divides the rows of one rank: 16 / 4 x 4 = 16 rows, not 64.
  const LoadedConfig mb = parse_run_config_with_origins({{"schedule.ini", kSchedule}}, {"--phase.2.minibatches=32"});
  EXPECT_NO_THROW(validate_schedule(mb.config, mb.origins, {1, 1, 3}));
  e = error_of([&] { validate_schedule(mb.config, mb.origins, {4, 1, 3}); });
  EXPECT_NE(e.find("the 16 rollouts of a data-parallel rank"), std::string::npos) << e;
}

TEST(PhaseValidation, TokenShardsAreFineForThePretrainPhasesThatRun) {
  const LoadedConfig c = parse_run_config_with_origins({{"schedule.ini", kSchedule}}, {"--data.path=x.bin"});
  EXPECT_NO_THROW(validate_schedule(c.config, c.origins, {1, 1, 1}));
  const std::string e = error_of([&] { validate_schedule(c.config, c.origins, {1, 1, 2}); });
  EXPECT_NE(e.find("data.path = 'x.bin' (set on the command line as --data.path)"), std::string::npos) << e;
  // A continual phase learns new files from watch_dir and replays the shards;
  // without watch_dir it needs the built-in task's levels, and says so.
  const LoadedConfig watch =
      parse_run_config_with_origins({{"schedule.ini", kSchedule}}, {"--data.path=x.bin", "--phase.3.watch_dir=."});
  EXPECT_NO_THROW(validate_schedule(watch.config, watch.origins, {1, 3, 3}));
  const std::string task = error_of([&] { validate_schedule(c.config, c.origins, {1, 3, 3}); });
  EXPECT_NE(task.find("phase 3 (continual) needs the built-in reasoning task"), std::string::npos) << task;
  EXPECT_NE(task.find("watch_dir = DIR"), std::string::npos) << task;
}

}  // namespace
}  // namespace pouch
