#include "runtime/threads.h"

#include <fmt/format.h>
#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "runtime/error.h"

namespace pouch {

void set_compute_threads(int n) {
  if (n > 0) omp_set_num_threads(n);
}

int compute_threads() { return omp_get_max_threads(); }

std::string format_cpu_list(const std::vector<int>& cpus) {
  std::string out;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? fmt::format("{}", cpus[i]) : fmt::format("{}-{}", cpus[i], cpus[j]);
    i = j + 1;
  }
  return out;
}

ThreadChoice choose_compute_threads(const ThreadInputs& in) {
  POUCH_CHECK(!in.mask.empty() && in.sharers >= 1 && in.sharer_index >= 0 && in.sharer_index < in.sharers,
              "thread inputs: {} cpus, sharer {} of {}", in.mask.size(), in.sharer_index, in.sharers);
  const int cpus = static_cast<int>(in.mask.size());
  const std::string mask = format_cpu_list(in.mask);
  const std::string shared = in.sharers == 1 ? fmt::format("cpus {} (this rank's own affinity mask)", mask)
                                             : fmt::format("cpus {} shared by {} ranks of this node (sharer {})", mask,
                                                           in.sharers, in.sharer_index);
  ThreadChoice c;
  const auto count = [](int n) { return fmt::format("{} thread{}", n, n == 1 ? "" : "s"); };
  // The slice of `width` CPUs of sharer i; wraps when there are more sharers than CPUs.
  const auto slice = [&](int width) {
    std::vector<int> pin;
    for (int k = 0; k < width; ++k)
      pin.push_back(in.mask[static_cast<std::size_t>((in.sharer_index * width + k) % cpus)]);
    return pin;
  };
  if (in.explicit_threads > 0) {
    c.threads = in.explicit_threads;
    if (in.sharers > 1 && in.explicit_threads * in.sharers <= cpus) c.pin = slice(in.explicit_threads);
    c.reason = fmt::format("{} ({}) on {}{}", count(c.threads), in.explicit_source, shared,
                           c.pin.empty() ? "" : fmt::format(", pinned to cpus {}", format_cpu_list(c.pin)));
    return c;
  }
  if (in.sharers == 1) {
    c.threads = cpus;
    c.reason = fmt::format("{} on {}", count(c.threads), shared);
    return c;
  }
  c.threads = std::max(1, cpus / in.sharers);
  c.pin = slice(c.threads);
  c.reason = fmt::format("{} on {}: pinned to cpus {}{}", count(c.threads), shared, format_cpu_list(c.pin),
                         in.sharers > cpus ? " (more ranks than cpus: oversubscribed)" : "");
  return c;
}

std::vector<int> process_cpu_mask() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  if (cpus.empty())
    for (unsigned c = 0; c < std::max(1u, std::thread::hardware_concurrency()); ++c)
      cpus.push_back(static_cast<int>(c));
  return cpus;
}

int omp_num_threads_from_env() {
  const char* v = std::getenv("OMP_NUM_THREADS");
  if (v == nullptr || *v == '\0') return 0;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  // "4,2" (nested levels) counts its first level.
  return (end != v && n > 0 && (*end == '\0' || *end == ',')) ? static_cast<int>(n) : 0;
}

void apply_thread_choice(const ThreadChoice& choice) {
  if (!choice.pin.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : choice.pin) CPU_SET(c, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
      fail("cannot pin this rank to cpus {}: {}; set train.threads (or OMP_NUM_THREADS) to run unpinned",
           format_cpu_list(choice.pin), std::strerror(errno));
  }
  set_compute_threads(choice.threads);
  if (choice.pin.empty()) return;
  // OpenMP threads inherit the mask of the thread that creates them; a pool
  // that already exists (a parallel region ran before) is pinned here.
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : choice.pin) CPU_SET(c, &set);
#pragma omp parallel num_threads(choice.threads)
  sched_setaffinity(0, sizeof(set), &set);
}

}  // namespace pouch
