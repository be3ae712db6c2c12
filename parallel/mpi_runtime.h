#pragma once
// The MPI library's lifetime: MPI_Init_thread in the constructor,
// MPI_Finalize in the destructor. Owned by main (never a singleton), created
// only when a launcher started the process (LaunchEnv::wants_mpi), and
// destroyed last: every communicator, and so every communication thread and
// MPI_Comm, is gone before it (ParallelContext lives inside main's scope).
#include <memory>

#include "parallel/launcher_env.h"

namespace pouch {

class MpiRuntime {
 public:
  // MPI_Init_thread(MPI_THREAD_MULTIPLE). Throws pouch::Error when MPI is
  // already initialised or provides a lower thread level (the communication
  // thread calls MPI while the main thread computes, and may also call it).
  MpiRuntime(int* argc = nullptr, char*** argv = nullptr);
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

  // An MpiRuntime when `env` says a launcher wants MPI, else null (a world of
  // one, MPI never initialised).
  static std::unique_ptr<MpiRuntime> start_if_launched(const LaunchEnv& env);

  int world_rank() const { return rank_; }
  int world_size() const { return size_; }

 private:
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace pouch
