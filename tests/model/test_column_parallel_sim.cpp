// The tensor-parallel model on the sim device, in one process: tp=2 ranks on
// threads over fake contexts with attach_device, each with a SimBackend with
// random delays on. Its loss and every gradient must be bitwise those of the
// same ranks on the CPU backend: the column-parallel backward's split
// (dx, its all-reduce issued, dW/db overlapping it, the wait) and every
// staged collective keep the CPU's numbers. With the tp wait dropped
// (POUCH_TEST_SKIP_COMM_WAIT, test-only) the gradients must differ: the sim
// device catches the missing wait.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "model/gpt.h"
#include "parallel/parallel_context.h"
#include "runtime/rng.h"
#include "runtime/sim/sim_backend.h"
#include "tests/model/odd_tp_model.h"

namespace pouch {
namespace {

using test::odd_tp_config;
using test::odd_tp_tokens;

struct Result {
  double loss = 0;
  std::vector<std::vector<float>> grads;  // this rank's shards, in parameter order
};

std::vector<Result> run(Device device) {
  auto ctxs = ParallelContext::fake({2, 1});
  std::vector<Result> results(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] {
      std::unique_ptr<Backend> be;
      if (device == Device::Sim) {
        SimOptions o;
        o.max_delay_us = 50;
        o.delay_seed = 3 + static_cast<std::uint64_t>(r);
        be = std::make_unique<SimBackend>(o);
      } else {
        be = make_backend(Device::CPU);
      }
      ParallelContext& ctx = *ctxs[static_cast<std::size_t>(r)];
      ctx.attach_device(*be);
      GPT m(odd_tp_config(), *be, TensorParallelGroup(&ctx.tp()));
      m.init_weights(5);
      m.parameters().zero_grad();
      Result& out = results[static_cast<std::size_t>(r)];
      out.loss = m.forward(odd_tp_tokens(1), odd_tp_tokens(2), 1.0f / 27.0f);
      m.backward();
      for (const auto& p : m.parameters()) {
        Tensor host = Tensor::empty(p.grad.shape());
        be->copy(host, p.grad);  // pageable: waits
        out.grads.emplace_back(host.f32(), host.f32() + host.numel());
      }
    });
  for (auto& t : threads) t.join();
  return results;
}

TEST(ColumnParallelSim, Tp2GradientsOnSimAreBitwiseTheCpus) {
  unsetenv("POUCH_TEST_SKIP_COMM_WAIT");
  const auto cpu = run(Device::CPU), sim = run(Device::Sim);
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(cpu[r].loss, sim[r].loss) << "rank " << r;
    ASSERT_EQ(cpu[r].grads.size(), sim[r].grads.size());
    for (std::size_t i = 0; i < cpu[r].grads.size(); ++i)
      EXPECT_EQ(std::memcmp(cpu[r].grads[i].data(), sim[r].grads[i].data(), cpu[r].grads[i].size() * sizeof(float)), 0)
          << "rank " << r << " parameter " << i;
  }
}

TEST(ColumnParallelSim, DroppedTpWaitIsCaught) {
  const auto cpu = run(Device::CPU);
  setenv("POUCH_TEST_SKIP_COMM_WAIT", "tp", 1);
  const auto sim = run(Device::Sim);
  unsetenv("POUCH_TEST_SKIP_COMM_WAIT");
  bool differs = false;
  for (int r = 0; r < 2; ++r)
    for (std::size_t i = 0; i < cpu[r].grads.size(); ++i) differs = differs || cpu[r].grads[i] != sim[r].grads[i];
  EXPECT_TRUE(differs) << "the gradients with the tp wait dropped equal the cpu's";
}

}  // namespace
}  // namespace pouch
