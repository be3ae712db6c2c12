// pouch generate: sample text from a weights file with a KV cache.
#include <cstdio>
#include <iostream>

#include "launcher/command_line.h"
#include "launcher/commands.h"
#include "model/generator.h"
#include "phases/common/model_file.h"
#include "runtime/device_setting.h"

namespace pouch {

namespace po = boost::program_options;

namespace {

constexpr const char* kGenerateUsage = R"(usage: pouch generate --weights FILE --prompt TEXT [options]

Continues TEXT with the model in FILE (which must carry its tokenizer, as
files written by pouch train do). Greedy by default; --temperature > 0
samples, restricted by --top-k and --top-p. Generation stops at the
tokenizer's end-of-text token (a newline for the built-in task), at
--max-tokens, or at the model's context length. Prints prompt + completion.

Example: pouch generate --weights runs/r1-tiny/model.h5 --prompt 'Q: 37+58='

Options)";

}  // namespace

int run_generate_command(const std::vector<std::string>& args) {
  po::options_description opts(kGenerateUsage);
  opts.add_options()("help,h", "print this help")("weights,w", po::value<std::string>(), "weights file (HDF5)")(
      "prompt,p", po::value<std::string>(), "text to continue")(
      "max-tokens,n", po::value<std::int64_t>()->default_value(64), "most tokens to generate")(
      "temperature,t", po::value<float>()->default_value(0.0f), "0 = greedy; > 0 samples softmax(logits / t)")(
      "top-k", po::value<std::int64_t>()->default_value(0), "sample among the k most likely tokens; 0 = all")(
      "top-p", po::value<float>()->default_value(1.0f), "nucleus sampling threshold in (0, 1]; 1 = off")(
      "seed", po::value<std::uint64_t>()->default_value(0), "sampling seed")(
      "device", po::value<std::string>()->default_value("auto"),
      "where the model runs: auto, cpu, sim or cuda (as [runtime] device)")("no-stop",
                                                                            "do not stop at the end-of-text token");
  const po::variables_map vm = parse_options(args, opts);
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  if (!vm.count("weights")) fail("--weights FILE is required (see pouch generate --help)");
  if (!vm.count("prompt")) fail("--prompt TEXT is required (see pouch generate --help)");
  GenerateOptions opt;
  opt.max_tokens = vm["max-tokens"].as<std::int64_t>();
  opt.sampling.temperature = vm["temperature"].as<float>();
  opt.sampling.top_k = vm["top-k"].as<std::int64_t>();
  opt.sampling.top_p = vm["top-p"].as<float>();
  if (opt.max_tokens <= 0) fail("--max-tokens must be positive");
  if (opt.sampling.temperature < 0.0f) fail("--temperature must be >= 0");
  if (opt.sampling.top_k < 0) fail("--top-k must be >= 0");
  if (!(opt.sampling.top_p > 0.0f && opt.sampling.top_p <= 1.0f)) fail("--top-p must be in (0, 1]");

  const std::string path = vm["weights"].as<std::string>();
  auto backend = make_backend(resolve_device(vm["device"].as<std::string>(), "--device"));
  LoadedModel loaded = load_model_file(path, *backend);
  if (!loaded.tokenizer) fail("{} carries no tokenizer (/model@tokenizer); it cannot turn a prompt into tokens", path);
  if (!vm.count("no-stop")) opt.stop_token = loaded.tokenizer->eot_id();
  // The model's vocabulary may be larger than the tokenizer's: sample only ids it can print.
  opt.decodable_vocab = loaded.tokenizer->vocab_size();
  const std::string prompt = vm["prompt"].as<std::string>();
  Generator generator(*loaded.model);
  RngStream rng(vm["seed"].as<std::uint64_t>(), stream_id("generate"));
  const auto out = generator.generate(loaded.tokenizer->encode(prompt), opt, rng);
  std::printf("%s%s\n", prompt.c_str(), loaded.tokenizer->decode(out).c_str());
  return 0;
}

}  // namespace pouch
