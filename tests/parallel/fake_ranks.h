#pragma once
// Runs one function per in-process rank, each on its own thread, as the
// ranks of a real job would run; returns once all have finished.
#include <functional>
#include <thread>
#include <vector>

namespace pouch::test {

inline void on_ranks(int n, const std::function<void(int rank)>& body) {
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) threads.emplace_back(body, r);
  for (auto& t : threads) t.join();
}

}  // namespace pouch::test
