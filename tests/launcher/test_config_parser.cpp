#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "launcher/config_parser.h"
#include "runtime/error.h"
#include "tests/support/error_of.h"

namespace pouch {
namespace {

std::string parse_error(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return error_of([&] { parse_run_config({{"test.ini", text}}, overrides); });
}

std::string override_error(const std::string& override_arg) {
  return error_of([&] { parse_run_config({}, {override_arg}); });
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(ConfigParser, StructDefaultsWithoutAnyLayer) {
  RunConfig c = parse_run_config({}, {});
  RunConfig d;
  EXPECT_EQ(c.model.layers, d.model.layers);
  EXPECT_EQ(c.model.vocab_size, d.model.vocab_size);
  EXPECT_EQ(c.train.name, d.train.name);
  EXPECT_EQ(c.train.seed, d.train.seed);
  EXPECT_EQ(c.optim.lr, d.optim.lr);
  EXPECT_EQ(c.optim.schedule, d.optim.schedule);
  EXPECT_EQ(c.data.shuffle, d.data.shuffle);
  EXPECT_EQ(c.log.every, d.log.every);
}

TEST(ConfigParser, BuiltInDefaultIsR1Tiny) {
  RunConfig c = load_run_config({}, {});
  EXPECT_EQ(c.train.name, "r1-tiny");
  EXPECT_TRUE(contains(kDefaultConfigText, "[model]"));
  EXPECT_EQ(run_config_to_ini(c), run_config_to_ini(parse_run_config({default_config_text()}, {})));
  // The built-in file sets at least one value away from the struct defaults.
  EXPECT_NE(run_config_to_ini(c), run_config_to_ini(RunConfig{}));
}

TEST(ConfigParser, FileThenOverridesLaterWins) {
  const std::string text = R"INI(
# a comment
[model]
layers = 2        # trailing comment
d_model = 48
heads = 3
ln_eps = 2e-6

[train]
name = my run
init_from =
recompute = true
seed = 18446744073709551615

[optim]
lr = 3e-4
schedule = constant

[log]
peak_gflops = 123.5
)INI";
  RunConfig c =
      parse_run_config({{"a.ini", text}, {"b.ini", "[model]\nlayers = 3\n"}},
                       {"--model.heads=4", "--train.steps", "7", "--data.shuffle=false", "--train.recompute"});
  EXPECT_EQ(c.model.layers, 3);    // b.ini over a.ini
  EXPECT_EQ(c.model.d_model, 48);  // a.ini over the struct default
  EXPECT_EQ(c.model.heads, 4);     // command line over a.ini
  EXPECT_EQ(c.model.ln_eps, 2e-6f);
  EXPECT_EQ(c.model.seq_len, RunConfig{}.model.seq_len);
  EXPECT_EQ(c.train.name, "my run");
  EXPECT_EQ(c.train.init_from, "");
  EXPECT_TRUE(c.train.recompute);
  EXPECT_EQ(c.train.seed, 18446744073709551615ull);
  EXPECT_EQ(c.train.steps, 7);
  EXPECT_FALSE(c.data.shuffle);
  EXPECT_EQ(c.optim.lr, 3e-4f);
  EXPECT_EQ(c.optim.schedule, LrSchedule::Constant);
  EXPECT_EQ(c.log.peak_gflops, 123.5);
}

TEST(ConfigParser, ConfigFileFromDisk) {
  std::string path = (std::filesystem::temp_directory_path() / fmt::format("pouch-config-{}.ini", ::getpid())).string();
  {
    std::ofstream out(path);
    out << "[train]\nsteps = 5\n";
  }
  RunConfig c = load_run_config({path}, {"--train.batch_size=3"});
  std::remove(path.c_str());
  EXPECT_EQ(c.train.steps, 5);
  EXPECT_EQ(c.train.batch_size, 3);
  EXPECT_EQ(c.model.vocab_size, RunConfig{}.model.vocab_size) << "a --config file replaces the built-in one";

  std::string msg = error_of([&] { load_run_config({path}, {}); });
  EXPECT_TRUE(contains(msg, path)) << msg;
  EXPECT_TRUE(contains(msg, "does not exist")) << msg;
}

TEST(ConfigParserErrors, UnknownKeyNamesItAndSuggests) {
  std::string msg = parse_error("[model]\nlayers = 2\nlayer = 4\n");
  EXPECT_TRUE(contains(msg, "model.layer")) << msg;
  EXPECT_TRUE(contains(msg, "test.ini:3")) << msg;
  EXPECT_TRUE(contains(msg, "model.layers")) << msg;

  msg = override_error("--optim.learning_rate=1");
  EXPECT_TRUE(contains(msg, "optim.learning_rate")) << msg;

  msg = override_error("--model.lay=4");
  EXPECT_TRUE(contains(msg, "model.lay")) << msg << " (abbreviations must not be accepted)";
  EXPECT_TRUE(contains(msg, "--model.layers")) << msg;

  msg = override_error("--layers=4");
  EXPECT_TRUE(contains(msg, "layers")) << msg;
  EXPECT_TRUE(contains(msg, "--model.layers")) << msg;

  msg = parse_error("steps = 4\n");
  EXPECT_TRUE(contains(msg, "steps")) << msg;
  EXPECT_TRUE(contains(msg, "train.steps")) << msg;
}

TEST(ConfigParserErrors, UnknownSection) {
  std::string msg = parse_error("[modle]\nlayers = 2\n");
  EXPECT_TRUE(contains(msg, "modle")) << msg;
  EXPECT_TRUE(contains(msg, "[model]")) << msg;
  msg = override_error("--trian.steps=3");
  EXPECT_TRUE(contains(msg, "trian")) << msg;
}

TEST(ConfigParserErrors, WrongType) {
  std::string msg = parse_error("[model]\nlayers = abc\n");
  EXPECT_TRUE(contains(msg, "model.layers")) << msg;
  EXPECT_TRUE(contains(msg, "abc")) << msg;
  EXPECT_TRUE(contains(msg, "test.ini:2")) << msg;

  for (std::string bad : {"--model.layers=4.5", "--model.d_model=", "--train.seed=-1", "--optim.lr=fast",
                          "--optim.lr=nan", "--optim.lr=1e99", "--data.shuffle=maybe", "--train.steps=12x"}) {
    msg = override_error(bad);
    std::string key = bad.substr(2, bad.find('=') - 2);
    EXPECT_TRUE(contains(msg, key)) << bad << " -> " << msg;
  }
}

TEST(ConfigParserErrors, BadEnum) {
  std::string msg = override_error("--optim.schedule=linear");
  EXPECT_TRUE(contains(msg, "optim.schedule")) << msg;
  EXPECT_TRUE(contains(msg, "constant or cosine")) << msg;
}

TEST(ConfigParserErrors, OutOfRangeValues) {
  const std::vector<std::string> bad = {"--model.layers=0",
                                        "--model.d_model=-8",
                                        "--model.heads=0",
                                        "--model.seq_len=0",
                                        "--model.vocab_size=0",
                                        "--model.ln_eps=0",
                                        "--train.batch_size=0",
                                        "--train.grad_accum=0",
                                        "--train.steps=0",
                                        "--train.eval_every=-1",
                                        "--train.threads=-2",
                                        "--train.name=",
                                        "--optim.lr=0",
                                        "--optim.lr=-1e-3",
                                        "--optim.beta1=1",
                                        "--optim.beta2=-0.1",
                                        "--optim.grad_clip=-1",
                                        "--optim.warmup_steps=-1",
                                        "--optim.eps=0",
                                        "--optim.weight_decay=-0.1",
                                        "--optim.min_lr_ratio=2",
                                        "--log.every=0",
                                        "--log.peak_gflops=-1",
                                        "--data.task_corrupt_fraction=1",
                                        "--data.task_max_level=0",
                                        "--data.task_train_samples=0"};
  for (const auto& arg : bad) {
    std::string msg = override_error(arg);
    std::string key = arg.substr(2, arg.find('=') - 2);
    EXPECT_TRUE(contains(msg, key)) << arg << " -> " << msg;
    EXPECT_TRUE(contains(msg, "command line")) << arg << " -> " << msg;
  }
  // Zero is allowed where it means "off".
  RunConfig c = parse_run_config({}, {"--train.eval_every=0", "--optim.grad_clip=0", "--optim.warmup_steps=0",
                                      "--optim.beta1=0", "--train.threads=0"});
  EXPECT_EQ(c.train.eval_every, 0);
}

TEST(ConfigParserErrors, DModelNotDivisibleByHeads) {
  std::string msg = parse_error("[model]\nd_model = 130\nheads = 4\n");
  EXPECT_TRUE(contains(msg, "model.d_model")) << msg;
  EXPECT_TRUE(contains(msg, "model.heads")) << msg;
  EXPECT_TRUE(contains(msg, "test.ini:2")) << msg;
}

TEST(ConfigParserErrors, SyntaxAndDuplicates) {
  std::string msg = parse_error("[model]\nlayers 4\n");
  EXPECT_TRUE(contains(msg, "test.ini:2")) << msg;
  msg = parse_error("[model\nlayers = 4\n");
  EXPECT_TRUE(contains(msg, "test.ini:1")) << msg;
  msg = parse_error("[model]\nlayers = 4\nlayers = 5\n");
  EXPECT_TRUE(contains(msg, "model.layers")) << msg;
  EXPECT_TRUE(contains(msg, "test.ini:2")) << msg;
  EXPECT_TRUE(contains(msg, "test.ini:3")) << msg;
  msg = error_of([] { parse_run_config({}, {"--train.steps=1", "--train.steps=2"}); });
  EXPECT_TRUE(contains(msg, "train.steps")) << msg;
  msg = error_of([] { parse_run_config({}, {"train.steps=1"}); });
  EXPECT_TRUE(contains(msg, "train.steps=1")) << msg;
  msg = error_of([] { parse_run_config({}, {"--train.name=a#b"}); });
  EXPECT_TRUE(contains(msg, "train.name")) << msg;
}

TEST(ConfigParser, ToIniRoundTrips) {
  RunConfig c;
  c.model.layers = 3;
  c.model.d_model = 60;
  c.model.heads = 5;
  c.model.ln_eps = 1.2345678e-5f;
  c.train.name = "round trip";
  c.train.run_dir = "runs/x";
  c.train.seed = 18446744073709551615ull;
  c.train.recompute = true;
  c.train.init_from = "weights/model.h5";
  c.data.shuffle = false;
  c.data.path = "data/*.bin";
  c.data.task_corrupt_fraction = 0.1f;
  c.optim.lr = 0.1f + 0.2f;
  c.optim.beta2 = 0.999f;
  c.optim.eps = 1e-38f;
  c.optim.schedule = LrSchedule::Constant;
  c.optim.min_lr_ratio = 1.0f / 3.0f;
  c.log.peak_gflops = 0.1 + 0.2;
  c.log.metrics = "m.jsonl";

  std::string ini = run_config_to_ini(c);
  RunConfig back = parse_run_config({{"written.ini", ini}}, {});
  EXPECT_EQ(run_config_to_ini(back), ini);
  EXPECT_EQ(back.model.ln_eps, c.model.ln_eps);
  EXPECT_EQ(back.optim.lr, c.optim.lr);
  EXPECT_EQ(back.optim.eps, c.optim.eps);
  EXPECT_EQ(back.optim.min_lr_ratio, c.optim.min_lr_ratio);
  EXPECT_EQ(back.log.peak_gflops, c.log.peak_gflops);
  EXPECT_EQ(back.train.seed, c.train.seed);
  EXPECT_EQ(back.train.name, c.train.name);
  EXPECT_EQ(back.data.path, c.data.path);
  EXPECT_EQ(back.optim.schedule, LrSchedule::Constant);
  EXPECT_TRUE(back.train.recompute);
  EXPECT_FALSE(back.data.shuffle);
  for (const auto& key : config_keys())
    EXPECT_TRUE(contains(ini, fmt::format("\n{} =", key.name.substr(key.name.find('.') + 1)))) << key.name;
}

TEST(ConfigParser, KeyTableCoversEveryKey) {
  const auto& keys = config_keys();
  EXPECT_EQ(keys.size(), 46u);
  std::string text = describe_config_keys();
  for (const auto& key : keys) {
    EXPECT_FALSE(key.help.empty()) << key.name;
    EXPECT_TRUE(contains(text, key.name)) << key.name;
    // Every listed key is accepted as an override with its default value.
    EXPECT_NO_THROW(parse_run_config({}, {fmt::format("--{}={}", key.name, key.default_value)})) << key.name;
  }
  for (const auto& key : keys) {
    if (key.builtin_value != key.default_value) {
      EXPECT_TRUE(contains(text, fmt::format("r1-tiny {}", key.builtin_value))) << key.name;
    }
  }
}

TEST(ConfigParser, RuntimeDeviceTakesTheKnownDevicesOnly) {
  EXPECT_EQ(parse_run_config({}, {}).runtime.device, "auto");
  for (const char* d : {"auto", "cpu", "sim"})
    EXPECT_EQ(parse_run_config({}, {fmt::format("--runtime.device={}", d)}).runtime.device, d);
  const ConfigText bad{"d.ini", "[runtime]\ndevice = gpu\n"};
  try {
    parse_run_config({bad}, {});
    FAIL() << "device = gpu was accepted";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "runtime.device = gpu")) << e.what();
    EXPECT_TRUE(contains(e.what(), "d.ini:2")) << e.what();
    EXPECT_TRUE(contains(e.what(), "auto, cpu, sim or cuda")) << e.what();
  }
}

TEST(ConfigParser, ParallelLayoutChecksNameTheKeys) {
  const ConfigText heads{"p.ini", "[model]\nheads = 6\nd_model = 48\n[parallel]\ntp = 4\n"};
  try {
    parse_run_config({heads}, {});
    FAIL() << "heads 6 over tp 4 was accepted";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "model.heads")) << e.what();
    EXPECT_TRUE(contains(e.what(), "parallel.tp")) << e.what();
  }
  EXPECT_THROW(parse_run_config({}, {"--parallel.tp=0"}), Error);
  EXPECT_THROW(parse_run_config({}, {"--parallel.dp=-1"}), Error);
  EXPECT_THROW(parse_run_config({}, {"--parallel.timeout_s=0"}), Error);
  const RunConfig ok = parse_run_config({}, {"--parallel.tp=2", "--parallel.overlap=false"});
  EXPECT_EQ(ok.parallel.tp, 2);
  EXPECT_FALSE(ok.parallel.overlap);
}

TEST(ConfigParser, IsConfigOverride) {
  EXPECT_TRUE(is_config_override("--model.layers=4"));
  EXPECT_TRUE(is_config_override("--train.recompute"));
  EXPECT_TRUE(is_config_override("--modle.layers=4"));
  EXPECT_FALSE(is_config_override("--config"));
  EXPECT_FALSE(is_config_override("--config=a.ini"));
  EXPECT_FALSE(is_config_override("model.layers=4"));
  EXPECT_FALSE(is_config_override("-m"));
}

}  // namespace
}  // namespace pouch
