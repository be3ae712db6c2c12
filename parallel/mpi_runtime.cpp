#include "parallel/mpi_runtime.h"

#include <mpi.h>

#include "parallel/watchdog.h"
#include "runtime/error.h"

namespace pouch {

namespace {

const char* thread_level_name(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE:
      return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED:
      return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED:
      return "MPI_THREAD_SERIALIZED";
    case MPI_THREAD_MULTIPLE:
      return "MPI_THREAD_MULTIPLE";
  }
  return "an unknown thread level";
}

}  // namespace

MpiRuntime::MpiRuntime(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized)
    fail("MPI is already initialised: create one MpiRuntime per process, in main, before any communicator");
  int provided = MPI_THREAD_SINGLE;
  MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  if (provided < MPI_THREAD_MULTIPLE) {
    MPI_Finalize();
    fail(
        "rank {}: the MPI library provides {}, pouch needs MPI_THREAD_MULTIPLE (a communication thread runs "
        "collectives while the main thread computes). Use an MPI built with thread support (Debian's Open MPI "
        "is); with Open MPI check `ompi_info | grep -i thread`",
        rank_, thread_level_name(provided));
  }
}

MpiRuntime::~MpiRuntime() {
  POUCH_CHECK(mpi_is_running(), "MPI was finalised behind MpiRuntime's back");
  MPI_Finalize();
}

std::unique_ptr<MpiRuntime> MpiRuntime::start_if_launched(const LaunchEnv& env) {
  if (!env.wants_mpi()) return nullptr;
  return std::make_unique<MpiRuntime>();
}

}  // namespace pouch
