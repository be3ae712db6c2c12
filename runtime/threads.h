#pragma once
// Compute threads: pouch's OpenMP kernels and the OpenMP build of OpenBLAS
// share one pool, so one setting governs both.
//
// How many threads a rank takes: the ranks of a node divide the CPUs they are
// given. A launcher that binds (mpirun: one core per rank) hands each rank its
// own affinity mask; one that does not (srun with TaskPlugin=task/none, no
// --cpus-per-task) hands every rank the same mask of all cores, and each rank
// taking all of them puts ranks x cores threads on the cores. So the ranks
// that see the same mask split it: each takes floor(cpus / sharers) CPUs (at
// least 1) and is pinned to its own slice of them, which is what mpirun's
// binding gives. Equal counts per rank under every launcher also mean equal
// GEMM summation orders, hence bitwise equal losses.
#include <string>
#include <vector>

namespace pouch {

// n <= 0 keeps the default (OMP_NUM_THREADS, else all cores).
void set_compute_threads(int n);
int compute_threads();

struct ThreadInputs {
  std::vector<int> mask;        // the CPUs this process may run on (sched_getaffinity), ascending
  int sharers = 1;              // ranks on this node with exactly this mask, this one included
  int sharer_index = 0;         // this rank's index among them (0 .. sharers-1)
  int explicit_threads = 0;     // > 0: train.threads or OMP_NUM_THREADS asked for this many
  std::string explicit_source;  // where explicit_threads came from, for the log ("train.threads = 2")
};

struct ThreadChoice {
  int threads = 1;
  std::vector<int> pin;  // CPUs to restrict this process to; empty: keep the mask
  std::string reason;    // one line for the log
};

// Pure: the rule above. An explicit count is kept as asked; it is pinned to a
// disjoint slice only when the sharers' slices fit in the mask.
ThreadChoice choose_compute_threads(const ThreadInputs& in);

// "0-3,6" for {0, 1, 2, 3, 6}.
std::string format_cpu_list(const std::vector<int>& cpus);

// This process's affinity mask (all hardware threads if it cannot be read).
std::vector<int> process_cpu_mask();
// OMP_NUM_THREADS as a positive count, 0 when unset or not one.
int omp_num_threads_from_env();
// Pins the process (the calling thread, and so the OpenMP threads it creates
// afterwards) to choice.pin if not empty and sets the thread count. Throws
// pouch::Error when the kernel refuses the pinning.
void apply_thread_choice(const ThreadChoice& choice);

}  // namespace pouch
