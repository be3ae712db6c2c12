// pouch eval: validation loss on shards and/or the built-in task's accuracy.
#include <cstdio>
#include <iostream>

#include "data/reasoning_task.h"
#include "data/sequence_loader.h"
#include "launcher/command_line.h"
#include "launcher/commands.h"
#include "phases/common/model_file.h"
#include "phases/common/task_eval.h"
#include "runtime/device_setting.h"

namespace pouch {

namespace po = boost::program_options;

namespace {

constexpr const char* kEvalUsage = R"(usage: pouch eval --weights FILE [options]

Evaluates a weights file (e.g. runs/r1-tiny/model.h5). With --data: the mean
loss over the first --batches batches of those shards, in order. When the
model was trained on the built-in reasoning task (its file carries the task's
tokenizer): held-out exact-answer accuracy per difficulty level, by greedy
generation. Both when both apply.

Options)";

const CharTokenizer* task_tokenizer(const Tokenizer* t) {
  const auto* c = dynamic_cast<const CharTokenizer*>(t);
  return c != nullptr && c->alphabet() == CharTokenizer::reasoning_alphabet() ? c : nullptr;
}

}  // namespace

int run_eval_command(const std::vector<std::string>& args) {
  po::options_description opts(kEvalUsage);
  opts.add_options()("help,h", "print this help")("weights,w", po::value<std::string>(), "weights file (HDF5)")(
      "data", po::value<std::string>(), "token shard or glob for validation loss")(
      "batches", po::value<std::int64_t>()->default_value(8), "batches of validation loss")(
      "batch-size", po::value<std::int64_t>()->default_value(8), "sequences per batch")(
      "max-level", po::value<int>()->default_value(5), "built-in task: highest difficulty level to test (1-5)")(
      "per-level", po::value<std::int64_t>()->default_value(50), "built-in task: held-out problems per level")(
      "seed", po::value<std::uint64_t>()->default_value(1337), "built-in task: seed of the held-out problems")(
      "device", po::value<std::string>()->default_value("auto"),
      "where the model runs: auto, cpu, sim or cuda (as [runtime] device)");
  const po::variables_map vm = parse_options(args, opts);
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  if (!vm.count("weights")) fail("--weights FILE is required (see pouch eval --help)");
  const std::string path = vm["weights"].as<std::string>();
  auto backend = make_backend(resolve_device(vm["device"].as<std::string>(), "--device"));
  LoadedModel loaded = load_model_file(path, *backend);
  GPT& model = *loaded.model;
  const CharTokenizer* task = task_tokenizer(loaded.tokenizer.get());
  if (!vm.count("data") && task == nullptr)
    fail("{} was not trained on the built-in task; give --data SHARDS to measure its loss", path);

  if (vm.count("data")) {
    const std::int64_t B = vm["batch-size"].as<std::int64_t>(), T = model.config().seq_len;
    if (B <= 0) fail("--batch-size must be positive");
    SequenceLoader loader(TokenSource::from_glob(vm["data"].as<std::string>()), T, false, 0);
    const std::int64_t batches =
        std::max<std::int64_t>(1, std::min(vm["batches"].as<std::int64_t>(), loader.num_windows() / B));
    // Host buffers: the loader writes them, GPT::forward copies them to the device.
    Tensor x = Tensor::empty({B, T}, DType::I32), y = Tensor::empty({B, T}, DType::I32);
    double sum = 0.0;
    for (std::int64_t i = 0; i < batches; ++i) {
      for (std::int64_t b = 0; b < B; ++b) loader.sequence(i * B + b, x.i32() + b * T, y.i32() + b * T);
      for (std::int64_t k = 0; k < B * T; ++k)
        if (x.i32()[k] >= model.config().vocab_size || y.i32()[k] >= model.config().vocab_size)
          fail("{}: token id outside the model's vocabulary of {}", loader.source().name(), model.config().vocab_size);
      sum += model.forward(x, y);
    }
    std::printf("val_loss %.4f over %lld sequences of %lld tokens\n", sum / static_cast<double>(batches),
                static_cast<long long>(batches * B), static_cast<long long>(T));
  }
  if (task != nullptr) {
    const int max_level = vm["max-level"].as<int>();
    if (max_level < 1 || max_level > 5) fail("--max-level must be in 1..5");
    const auto levels = evaluate_task_accuracy(model, *task, 1, max_level, vm["per-level"].as<std::int64_t>(),
                                               vm["seed"].as<std::uint64_t>());
    std::printf("held-out exact-answer accuracy by difficulty level:\n");
    for (const auto& l : levels)
      std::printf("  level %d: %5.1f%%  (%lld/%lld right, %lld well-formed)\n", l.level, 100.0 * l.accuracy(),
                  static_cast<long long>(l.correct), static_cast<long long>(l.total),
                  static_cast<long long>(l.well_formed));
    std::printf("  overall: %5.1f%%\n", 100.0 * overall_accuracy(levels));
  }
  return 0;
}

}  // namespace pouch
