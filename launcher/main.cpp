// pouch: one binary, launched SPMD by mpirun/srun or run directly (a world of one).
#include <unistd.h>

#include <boost/program_options/errors.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "launcher/commands.h"
#include "parallel/launcher_env.h"
#include "parallel/mpi_runtime.h"
#include "parallel/uniform_error.h"
#include "parallel/watchdog.h"
#include "phases/schedule/checkpoint_choice.h"
#include "runtime/cpu/blas_kernel_choice.h"
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
  ckpt       inspect, verify, export (safetensors) and convert checkpoints
  serve      HTTP generation server: answers with the newest model a run
             publishes (or one fixed weights file)
  info       the backends this build has and the devices it sees
  slurm      an sbatch script for a training run that checkpoints on
             Slurm's signal and requeues itself (or chains jobs); submit it

Run `pouch <command> --help` for the options of each command.
Options: --help, --version
)";

struct Command {
  std::string_view name;
  int (*run)(const std::vector<std::string>&);
};

constexpr Command kCommands[] = {
    {"train", pouch::run_train_command}, {"eval", pouch::run_eval_command},   {"generate", pouch::run_generate_command},
    {"data", pouch::run_data_command},   {"bench", pouch::run_bench_command}, {"ckpt", pouch::run_ckpt_command},
    {"serve", pouch::run_serve_command}, {"info", pouch::run_info_command},   {"slurm", pouch::run_slurm_command},
};

// OpenBLAS chose its kernels when it loaded; if it fell back to SSE-only ones
// on a CPU with AVX2/AVX-512 (runtime/cpu/blas_kernel_choice.h), run this
// same command again with OPENBLAS_CORETYPE naming the better set. First
// thing in main: no thread, no MPI, no file is open yet, and under
// mpirun/srun the process keeps its pid and environment across exec.
void reexec_for_better_blas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  const std::string chosen = pouch::cpu::blas_kernel_name();
  const std::string better = pouch::cpu::better_blas_kernel(chosen, pouch::cpu::detect_cpu_vector_features());
  if (better.empty()) return;
  setenv("OPENBLAS_CORETYPE", better.c_str(), 1);
  setenv(pouch::cpu::kBlasFallbackEnv, chosen.c_str(), 1);
  execv("/proc/self/exe", argv);
  // exec failed: carry on with the kernels already loaded.
  std::fprintf(stderr, "pouch: could not re-execute with OPENBLAS_CORETYPE=%s; running OpenBLAS's %s kernels\n",
               better.c_str(), chosen.c_str());
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(pouch::cpu::kBlasFallbackEnv);
}

}  // namespace

int main(int argc, char** argv) {
  reexec_for_better_blas_kernels(argv);
  // --resume=auto verifies candidate checkpoints in a child `pouch ckpt verify`.
  pouch::set_checkpoint_verifier_executable("/proc/self/exe");
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
    // Under mpirun/srun every rank runs this same code; MPI lives exactly as
    // long as this scope (every communicator is gone before MPI_Finalize).
    std::unique_ptr<pouch::MpiRuntime> mpi;
    std::string error;
    try {
      mpi = pouch::MpiRuntime::start_if_launched(pouch::detect_launch_env(pouch::process_environment()));
      return cmd.run(args);
    } catch (const pouch::UniformError& e) {
      // Raised alike by every rank before any communication (a bad config or
      // layout): each prints it and exits 1; nobody needs to be killed.
      const std::string where = mpi ? " (rank " + std::to_string(mpi->world_rank()) + ")" : "";
      std::fprintf(stderr, "pouch %s%s: error: %s\n", argv[1], where.c_str(), e.what());
      return 1;
    } catch (const pouch::Error& e) {
      error = std::string("error: ") + e.what();
    } catch (const boost::program_options::error& e) {
      error = std::string("error: ") + e.what() + " (see pouch " + argv[1] + " --help)";
    } catch (const std::exception& e) {
      error = std::string("internal error: ") + e.what();
    }
    // Under MPI a failing rank takes the whole job down (the others may be
    // waiting in a collective for it); abort_job prints the reason with the
    // rank and does not return.
    if (pouch::mpi_is_running()) pouch::abort_job(std::string("pouch ") + argv[1] + ": " + error, 1);
    std::fprintf(stderr, "pouch %s: %s\n", argv[1], error.c_str());
    return 1;
  }
  std::fprintf(stderr, "pouch: unknown command '%s'\n\n%s", argv[1], kUsage);
  return 2;
}
