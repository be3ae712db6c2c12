// pouch: one binary, launched SPMD by mpirun/srun (later) or run directly.
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options/errors.hpp>

#include "launcher/commands.h"
#include "runtime/error.h"

namespace {

constexpr const char* kUsage = R"(usage: pouch <command> [options]

A training orchestrator for GPT language models.

Commands:
  train      train a model (no options: the built-in r1-tiny on the built-in
             reasoning task, a few minutes on 2 cores)
  eval       evaluate a weights file: loss and, for the built-in task,
             exact-answer accuracy per difficulty level
  generate   generate text from a weights file
  data       prepare token shards from text or JSONL (data prepare --help)
  bench      benchmarks against a PyTorch peer and the machine's limits

Run `pouch <command> --help` for the options of each command.
Options: --help, --version
)";

struct Command {
  std::string_view name;
  int (*run)(const std::vector<std::string>&);
};

constexpr Command kCommands[] = {
    {"train", pouch::run_train_command},       {"eval", pouch::run_eval_command},
    {"generate", pouch::run_generate_command}, {"data", pouch::run_data_command},
    {"bench", pouch::run_bench_command},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string_view first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (first == "--version") {
    std::printf("pouch %s\n", POUCH_VERSION);
    return 0;
  }
  for (const auto& cmd : kCommands) {
    if (cmd.name != first) continue;
    const std::vector<std::string> args(argv + 2, argv + argc);
    try {
      return cmd.run(args);
    } catch (const pouch::Error& e) {
      std::fprintf(stderr, "pouch %s: error: %s\n", argv[1], e.what());
    } catch (const boost::program_options::error& e) {
      std::fprintf(stderr, "pouch %s: error: %s (see pouch %s --help)\n", argv[1], e.what(), argv[1]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "pouch %s: internal error: %s\n", argv[1], e.what());
    }
    return 1;
  }
  std::fprintf(stderr, "pouch: unknown command '%s'\n\n%s", argv[1], kUsage);
  return 2;
}
