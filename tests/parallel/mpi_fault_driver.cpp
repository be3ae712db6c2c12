// A small SPMD program whose ranks misbehave on purpose, for the CTest
// wrappers that check the job then fails fast and says why
// (tests/parallel/CMakeLists.txt). Usage, under mpiexec: parallel_mpi_faults MODE
//   sleep   deadline 2 s; rank 1 sleeps 20 s before its 4th all-reduce
//   throw   deadline 60 s; rank 1 throws a pouch::Error at step 3
//   kill    deadline 5 s; rank 1 SIGKILLs itself at step 3
//   layout  parallel.tp = 3 on the world: refused on every rank, each prints
//           and exits 1 (UniformError), no abort
// main() is shaped like the launcher's should be: MpiRuntime outermost, the
// context inside, UniformError -> print and return 1, other errors ->
// abort_job.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "parallel/mpi_runtime.h"
#include "parallel/parallel_context.h"
#include "parallel/uniform_error.h"
#include "parallel/watchdog.h"
#include "runtime/error.h"

namespace {

int run(const std::string& mode) {
  using namespace pouch;
  ParallelOptions options;
  options.timeout_s = mode == "sleep" ? 2.0 : mode == "kill" ? 5.0 : 60.0;
  if (mode == "layout") options.tp = 3;
  const auto ctx = ParallelContext::create(options);
  Tensor t = Tensor::zeros({1024});
  for (int step = 0; step < 6; ++step) {
    if (ctx->rank() == 1 && step == 3) {
      if (mode == "sleep") std::this_thread::sleep_for(std::chrono::seconds(20));
      if (mode == "throw") fail("injected error at step {}", step);
      if (mode == "kill") std::raise(SIGKILL);
    }
    ctx->world().all_reduce(t, ReduceOp::Sum);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s sleep|throw|kill|layout\n", argv[0]);
    return 2;
  }
  pouch::MpiRuntime mpi(&argc, &argv);
  try {
    return run(argv[1]);
  } catch (const pouch::UniformError& e) {
    // Every rank refuses alike: each prints, all exit non-zero, no abort.
    std::fprintf(stderr, "rank %d: error: %s\n", mpi.world_rank(), e.what());
    return 1;
  } catch (const pouch::Error& e) {
    std::fprintf(stderr, "rank %d: error: %s\n", mpi.world_rank(), e.what());
    pouch::abort_job(e.what(), 1);
  }
  return 1;
}
