// The division of a node's CPUs among the ranks that share an affinity mask
// (runtime/threads.h).
#include <gtest/gtest.h>

#include "runtime/threads.h"

namespace pouch {
namespace {

ThreadInputs inputs(std::vector<int> mask, int sharers, int index, int explicit_threads = 0) {
  ThreadInputs in;
  in.mask = std::move(mask);
  in.sharers = sharers;
  in.sharer_index = index;
  in.explicit_threads = explicit_threads;
  in.explicit_source = "train.threads = " + std::to_string(explicit_threads);
  return in;
}

TEST(Threads, OwnMaskTakesAllOfIt) {
  // mpirun --bind-to core: each rank has its own one-core mask.
  const ThreadChoice c = choose_compute_threads(inputs({1}, 1, 0));
  EXPECT_EQ(c.threads, 1);
  EXPECT_TRUE(c.pin.empty());
  const ThreadChoice alone = choose_compute_threads(inputs({0, 1, 2, 3}, 1, 0));
  EXPECT_EQ(alone.threads, 4);
  EXPECT_TRUE(alone.pin.empty());
}

TEST(Threads, SharedMaskIsDividedAndPinned) {
  // srun with TaskPlugin=task/none: both ranks see cpus 0-1.
  for (int i = 0; i < 2; ++i) {
    const ThreadChoice c = choose_compute_threads(inputs({0, 1}, 2, i));
    EXPECT_EQ(c.threads, 1);
    EXPECT_EQ(c.pin, std::vector<int>{i});
    EXPECT_NE(c.reason.find("shared by 2 ranks"), std::string::npos) << c.reason;
  }
  const ThreadChoice second = choose_compute_threads(inputs({4, 5, 6, 7, 9, 10}, 2, 1));
  EXPECT_EQ(second.threads, 3);
  EXPECT_EQ(second.pin, (std::vector<int>{7, 9, 10}));
}

TEST(Threads, UnevenAndOversubscribedShares) {
  // 3 cpus for 2 ranks: 1 each (equal counts: same summation order per rank), one core idle.
  EXPECT_EQ(choose_compute_threads(inputs({0, 1, 2}, 2, 1)).pin, std::vector<int>{1});
  // 4 ranks on 2 cpus: 1 thread each, two ranks per core.
  const ThreadChoice c = choose_compute_threads(inputs({0, 1}, 4, 3));
  EXPECT_EQ(c.threads, 1);
  EXPECT_EQ(c.pin, std::vector<int>{1});
  EXPECT_NE(c.reason.find("oversubscribed"), std::string::npos) << c.reason;
}

TEST(Threads, ExplicitCountIsHonoured) {
  const ThreadChoice alone = choose_compute_threads(inputs({0, 1}, 1, 0, 3));
  EXPECT_EQ(alone.threads, 3);
  EXPECT_TRUE(alone.pin.empty());
  EXPECT_NE(alone.reason.find("train.threads = 3"), std::string::npos) << alone.reason;
  // Slices fit: 2 ranks x 2 threads on 4 shared cpus.
  EXPECT_EQ(choose_compute_threads(inputs({0, 1, 2, 3}, 2, 1, 2)).pin, (std::vector<int>{2, 3}));
  // They do not: kept as asked, unpinned.
  const ThreadChoice over = choose_compute_threads(inputs({0, 1}, 2, 1, 2));
  EXPECT_EQ(over.threads, 2);
  EXPECT_TRUE(over.pin.empty());
}

TEST(Threads, CpuListFormat) {
  EXPECT_EQ(format_cpu_list({0, 1, 2, 3, 6}), "0-3,6");
  EXPECT_EQ(format_cpu_list({5}), "5");
  EXPECT_EQ(format_cpu_list({1, 3, 4}), "1,3-4");
}

TEST(Threads, OmpNumThreadsFromEnv) {
  setenv("OMP_NUM_THREADS", "3", 1);
  EXPECT_EQ(omp_num_threads_from_env(), 3);
  setenv("OMP_NUM_THREADS", "2,1", 1);
  EXPECT_EQ(omp_num_threads_from_env(), 2);
  setenv("OMP_NUM_THREADS", "x", 1);
  EXPECT_EQ(omp_num_threads_from_env(), 0);
  unsetenv("OMP_NUM_THREADS");
  EXPECT_EQ(omp_num_threads_from_env(), 0);
}

}  // namespace
}  // namespace pouch
