// DpReducer's flat kind (a store backward does not announce: LoRA adapters,
// the value head, alignment's stores) over in-process ranks: finish() leaves
// every rank with the sum of every rank's gradients, and it reports no
// comm_wait_s (that is the bucketed kind's overlap measure).
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "parallel/fake_communicator.h"
#include "phases/common/dp_reducer.h"

namespace pouch {
namespace {

TEST(DpReducer, FlatSumsTheWholeStoreOverRanks) {
  constexpr int kRanks = 3;
  auto comms = make_fake_group(kRanks, "dp");
  std::vector<std::thread> threads;
  for (int rank = 0; rank < kRanks; ++rank) {
    threads.emplace_back([&, rank] {
      auto be = make_backend(Device::CPU);
      ParameterStore s;
      s.add("a", {10});
      s.add("b", {3, 7});
      s.allocate(*be);
      DpReducer r(s, *comms[static_cast<std::size_t>(rank)], nullptr, ParallelConfig{});
      EXPECT_FALSE(r.bucketed());
      for (int step = 0; step < 2; ++step) {
        for (auto& p : s)
          for (std::int64_t i = 0; i < p.grad.numel(); ++i) p.grad.f32()[i] = float(rank + 1) * float(i + 1) + step;
        r.begin();
        r.finish();
      }
      // Sum over ranks of (rank + 1)(i + 1) + 1 at the second step.
      for (auto& p : s)
        for (std::int64_t i = 0; i < p.grad.numel(); ++i)
          EXPECT_EQ(p.grad.f32()[i], 6.0f * float(i + 1) + 3.0f) << p.name << "[" << i << "]";
      nlohmann::json line = nlohmann::json::object();
      r.add_metrics(line);
      EXPECT_FALSE(line.contains("comm_wait_s"));
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace
}  // namespace pouch
