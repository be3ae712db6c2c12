#pragma once
// The frame of a checkpoint MPI test driver (run by CTest under mpirun -np 2
// or 4): one scratch-directory argument, MPI up, a ParallelContext at tp = 2
// with a 60 s collective timeout, and any failure on any rank aborting the
// whole job (MPI_Abort) so that no rank is left waiting in a collective.
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "parallel/mpi_runtime.h"
#include "parallel/parallel_context.h"

namespace pouch::testing {

[[noreturn]] inline void die(int rank, const std::string& what) {
  std::fprintf(stderr, "rank %d: FAILED: %s\n", rank, what.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();
}

// Runs body(dir, ctx) on every rank; returns main's exit code.
template <class Body>
int run_tp2_driver(int argc, char** argv, const char* arg_name, Body&& body) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <%s>\n", argv[0], arg_name);
    return 2;
  }
  MpiRuntime mpi(&argc, &argv);
  try {
    ParallelOptions options;
    options.tp = 2;
    options.timeout_s = 60;
    auto ctx = ParallelContext::create(options);
    body(std::string(argv[1]), *ctx);
  } catch (const std::exception& e) {
    die(mpi.world_rank(), e.what());
  }
  return 0;
}

}  // namespace pouch::testing
