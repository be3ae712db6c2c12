// The simulated device (runtime/sim/): every op gives bitwise the CPU
// backend's result on the same inputs (random delays on, so ordering is
// exercised); host access to sim memory throws; events order work across
// streams; copies into pageable memory synchronize and count; a missing
// wait before reading a pinned D2H buffer is seen as a stale value.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>

#include "runtime/cpu/cpu_backend.h"
#include "runtime/sim/sim_backend.h"
#include "tests/runtime/reference_ops.h"

namespace pouch {
namespace {

using ref::i64;

Tensor rnd(Shape shape, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  const i64 n = shape_numel(shape);
  return ref::make_tensor(ref::random_floats(n, seed, lo, hi), std::move(shape));
}

Tensor ids(std::vector<std::int32_t> v) {
  const i64 n = static_cast<i64>(v.size());
  return ref::make_ids(v, {n});
}

Tensor to_host(Backend& be, const Tensor& t) {
  Tensor h = Tensor::empty(t.shape(), t.dtype());
  be.copy(h, t);
  return h;
}

SimOptions jittery() {
  SimOptions o;
  o.max_delay_us = 30;
  o.delay_seed = 7;
  return o;
}

// One backend op on a list of tensors: inputs and outputs alike, all compared
// afterwards (outputs are pre-filled with random values, so "+=" is checked
// and "=" cannot pass on leftover memory).
struct OpCase {
  std::string name;
  std::vector<Tensor> args;
  std::function<void(Backend&, const std::vector<Tensor>&)> run;
};

std::vector<OpCase> op_cases() {
  std::vector<OpCase> c;
  for (i64 n : {1, 7, 63}) {
    const i64 M = n, K = n + 2, N = 2 * n + 1;
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        c.push_back({"matmul" + std::to_string(n) + (ta ? "T" : "N") + (tb ? "T" : "N"),
                     {rnd({M, N}, 1), rnd(ta ? Shape{K, M} : Shape{M, K}, 2), rnd(tb ? Shape{N, K} : Shape{K, N}, 3)},
                     [ta, tb](Backend& be, const std::vector<Tensor>& a) {
                       be.matmul(a[0], a[1], a[2], ta, tb, 0.75f, 0.5f);
                     }});
    c.push_back({"linear" + std::to_string(n),
                 {rnd({n, 5}, 4), rnd({n, 9}, 5), rnd({5, 9}, 6), rnd({5}, 7), rnd({n, 9}, 8), rnd({5, 9}, 9),
                  rnd({5}, 10), rnd({n, 5}, 11)},
                 [](Backend& be, const std::vector<Tensor>& a) {
                   be.linear_forward(a[0], a[1], a[2], a[3]);
                   be.linear_backward(a[4], a[5], a[6], a[7], a[1], a[2]);
                 }});
    c.push_back({"layernorm" + std::to_string(n),
                 {rnd({n, 33}, 12), rnd({n}, 13), rnd({n}, 14), rnd({n, 33}, 15), rnd({33}, 16), rnd({33}, 17),
                  rnd({n, 33}, 18), rnd({33}, 19), rnd({33}, 20), rnd({n, 33}, 21)},
                 [](Backend& be, const std::vector<Tensor>& a) {
                   be.layernorm_forward(a[0], a[1], a[2], a[3], a[4], a[5], 1e-5f);
                   be.layernorm_backward(a[6], a[7], a[8], a[9], a[3], a[4], a[1], a[2]);
                 }});
    c.push_back({"pointwise" + std::to_string(n),
                 {rnd({n, 17}, 22), rnd({n, 17}, 23), rnd({n, 17}, 24), rnd({n, 17}, 25), rnd({n, 17}, 26)},
                 [](Backend& be, const std::vector<Tensor>& a) {
                   be.gelu_forward(a[0], a[1]);
                   be.gelu_backward(a[2], a[3], a[1]);
                   be.add(a[4], a[4], a[0]);
                   be.scale(a[3], -1.5f);
                   be.softmax_forward(a[1], a[1], 0.7f);
                 }});
  }
  c.push_back({"embedding",
               {rnd({4, 6}, 30), ids({0, 3, 9, 2}), rnd({8, 6}, 31), rnd({8, 6}, 32), rnd({4, 6}, 33)},
               [](Backend& be, const std::vector<Tensor>& a) {
                 be.embedding_forward(a[0], a[1], a[2], 2, true);
                 be.embedding_backward(a[3], a[4], a[1], 2);
               }});
  c.push_back({"attention",
               {rnd({2, 7, 12}, 40), rnd({2, 7, 36}, 41), rnd({2, 2, 7}, 42), rnd({2, 7, 36}, 43), rnd({2, 7, 12}, 44)},
               [](Backend& be, const std::vector<Tensor>& a) {
                 be.attention_forward(a[0], a[2], a[1], 2);
                 be.attention_backward(a[3], a[4], a[1], a[0], a[2], 2);
               }});
  c.push_back({"attention_decode",
               {rnd({2, 12}, 45), rnd({2, 12}, 46), rnd({2, 9, 12}, 47), rnd({2, 9, 12}, 48)},
               [](Backend& be, const std::vector<Tensor>& a) { be.attention_decode(a[0], a[1], a[2], a[3], 5, 3); }});
  c.push_back({"cross_entropy",
               {rnd({5}, 50), rnd({5, 11}, 51), ids({0, 10, -1, 4, 7})},
               [](Backend& be, const std::vector<Tensor>& a) {
                 be.cross_entropy_forward_backward(a[0], a[1], a[1], a[2], 0.25f);
               }});
  c.push_back({"vocab_parallel_ce",
               {rnd({5, 11}, 52), rnd({5}, 53), rnd({2, 5}, 54), ids({3, 12, -1, 5, 20}), rnd({5}, 55)},
               [](Backend& be, const std::vector<Tensor>& a) {
                 be.vocab_parallel_ce_max(a[1], a[0], 9);
                 be.vocab_parallel_ce_stats(a[2], a[0], a[1], a[3], 3, 9);
                 be.vocab_parallel_ce_finish(a[4], a[0], a[0], a[1], a[2], a[3], 3, 9, 0.5f);
               }});
  c.push_back({"adamw",
               {rnd({1023}, 60), rnd({1023}, 61), rnd({1023}, 62), rnd({1023}, 63, 0.0f, 1.0f)},
               [](Backend& be, const std::vector<Tensor>& a) {
                 AdamWParams hp;
                 hp.weight_decay = 0.1f;
                 hp.step = 3;
                 hp.grad_scale = 0.5f;
                 be.adamw_update(a[0], a[1], a[2], a[3], hp);
               }});
  c.push_back({"sum_squares_segments",
               {rnd({1000}, 70), Tensor::zeros({3}, DType::F64)},
               [](Backend& be, const std::vector<Tensor>& a) {
                 be.sum_squares_segments(a[0], {{0, 7, 1}, {7, 993, 0}, {100, 63, 1}}, a[1]);
               }});
  c.push_back({"fill_copy_2d",
               {rnd({7, 10}, 80), rnd({7, 4}, 81), Tensor::zeros({63}, DType::I32)},
               [](Backend& be, const std::vector<Tensor>& a) {
                 be.copy_2d(a[1], 4, a[0], 10, 7, 3);
                 be.fill(a[0], -2.5f);
                 be.fill(a[2], 9.0f);
               }});
  return c;
}

TEST(SimBackend, EveryOpIsBitwiseTheCpuResult) {
  CpuBackend cpu;
  SimBackend sim(jittery());
  for (const OpCase& oc : op_cases()) {
    std::vector<Tensor> on_cpu, on_sim;
    for (const Tensor& a : oc.args) {
      on_cpu.push_back(a.clone());
      on_sim.push_back(sim.clone(a));
      ASSERT_EQ(on_sim.back().device(), Device::Sim);
    }
    oc.run(cpu, on_cpu);
    oc.run(sim, on_sim);
    for (std::size_t i = 0; i < on_cpu.size(); ++i) {
      const Tensor back = to_host(sim, on_sim[i]);
      EXPECT_TRUE(ref::bitwise_equal(back, on_cpu[i])) << oc.name << ": argument " << i;
    }
  }
}

TEST(SimBackend, SumSquaresSynchronizesAndCounts) {
  CpuBackend cpu;
  SimBackend sim(jittery());
  const Tensor x = rnd({1023}, 90);
  const Tensor dx = sim.clone(x);
  const std::int64_t before = sim.host_syncs();
  EXPECT_EQ(sim.sum_squares(dx), cpu.sum_squares(x));
  EXPECT_EQ(sim.host_syncs(), before + 1);
}

TEST(SimBackend, HostAccessToSimMemoryThrows) {
  SimBackend sim;
  Tensor t = sim.zeros({3, 4});
  EXPECT_EQ(t.device(), Device::Sim);
  EXPECT_THROW(t.f32(), Error);
  EXPECT_THROW(t.data<float>(), Error);
  EXPECT_THROW(t.zero_(), Error);
  EXPECT_THROW(t.clone(), Error);
  Tensor h = Tensor::zeros({3, 4});
  EXPECT_THROW(h.copy_from(t), Error);
  EXPECT_EQ(sim.empty_host({2}).device(), Device::CPU);
  EXPECT_EQ(make_backend(Device::Sim)->name(), "sim");
}

TEST(SimBackend, HostTensorsInComputeOpsAreRefusedAtTheCall) {
  SimBackend sim;
  Tensor d = sim.zeros({4});
  Tensor h = Tensor::zeros({4});
  try {
    sim.add(d, d, h);
    FAIL() << "expected pouch::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("add: tensor argument 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Backend::copy"), std::string::npos) << e.what();
  }
}

// Shape errors are internal checks that abort, on the worker as on the CPU;
// an op that throws pouch::Error fails its stream instead, as on CUDA.
TEST(SimStream, AFailingOpIsReportedAtTheNextSyncAndIsSticky) {
  SimStream stream("test", SimOptions{});
  int ran = 0;
  stream.enqueue("first", [&] { ++ran; });
  stream.enqueue("broken", [] { throw Error("bad input"); });
  stream.enqueue("after", [&] { ++ran; });
  bool marker = false;
  stream.enqueue(
      "marker", [&] { marker = true; }, /*is_op=*/false);
  try {
    stream.drain();
    FAIL() << "expected pouch::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken failed: bad input"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ran, 1) << "ops after the failure are skipped";
  EXPECT_TRUE(marker) << "markers still run, so waits on the stream end";
  EXPECT_THROW(stream.enqueue("later", [] {}), Error);
}

TEST(SimBackend, CopyIntoPageableHostMemorySynchronizesAndCounts) {
  SimOptions slow;
  slow.min_delay_us = slow.max_delay_us = 20000;
  SimBackend sim(slow);
  Tensor d = sim.empty({1000});
  sim.fill(d, 3.0f);
  Tensor h = ref::nan_tensor({1000});
  const std::int64_t before = sim.host_syncs();
  sim.copy(h, d);
  EXPECT_EQ(sim.host_syncs(), before + 1);
  for (i64 i = 0; i < h.numel(); ++i) ASSERT_EQ(h.f32()[i], 3.0f);
}

TEST(SimBackend, CopyFromPageableHostMemoryReadsTheSourceAtTheCall) {
  SimOptions slow;
  slow.min_delay_us = slow.max_delay_us = 20000;
  SimBackend sim(slow);
  Tensor h = Tensor::empty({8});
  h.fill_(1.0f);
  Tensor d = sim.empty({8});
  sim.copy(d, h);
  h.fill_(2.0f);  // the host may reuse a pageable buffer at once
  const Tensor back = to_host(sim, d);
  EXPECT_EQ(back.f32()[0], 1.0f);
}

// The bug class the simulator is for: a D2H copy into a pinned buffer does
// not block, so a host read without a wait sees what was there before. The
// delay before every item makes the early read certain, not likely.
TEST(SimBackend, AMissingWaitBeforeAPinnedReadSeesAStaleValue) {
  SimOptions slow;
  slow.min_delay_us = slow.max_delay_us = 50000;
  SimBackend sim(slow);
  Tensor d = sim.empty({16});
  sim.fill(d, 3.0f);
  Tensor pinned = sim.empty_host({16});
  std::memset(pinned.raw(), 0xFF, pinned.nbytes());
  const std::int64_t before = sim.host_syncs();
  sim.copy(pinned, d);
  EXPECT_EQ(sim.host_syncs(), before) << "a copy into pinned memory must not block";
  EXPECT_TRUE(std::isnan(pinned.f32()[0])) << "read before the copy ran: the poison is still there";
  auto done = sim.record_event();
  done->synchronize();
  EXPECT_EQ(sim.host_syncs(), before + 1);
  for (i64 i = 0; i < pinned.numel(); ++i) ASSERT_EQ(pinned.f32()[i], 3.0f);
}

TEST(SimBackend, EventsCompleteInStreamOrderAndOrderOtherStreams) {
  SimOptions slow;
  slow.min_delay_us = slow.max_delay_us = 20000;
  SimBackend producer(slow);
  SimBackend consumer;  // no delay: without the wait it would run first
  Tensor x = producer.empty({64});
  auto start = producer.record_event();
  producer.fill(x, 5.0f);
  auto filled = producer.record_event();
  EXPECT_FALSE(filled->query());
  consumer.wait_event(*filled);
  Tensor y = consumer.empty({64});
  consumer.copy(y, x);
  const Tensor back = to_host(consumer, y);
  for (i64 i = 0; i < back.numel(); ++i) ASSERT_EQ(back.f32()[i], 5.0f);
  EXPECT_TRUE(filled->query());
  EXPECT_TRUE(start->query());
  EXPECT_GE(producer.elapsed_s(*start, *filled), 0.015);
  const std::int64_t before = producer.host_syncs();
  producer.synchronize();
  EXPECT_EQ(producer.host_syncs(), before + 1);
}

// Timing an event that has not completed is a caller's bug (the contract of
// Backend::elapsed_s): an internal check, as is a cpu wait on a sim event.
TEST(SimBackendDeathTest, ElapsedOfAnIncompleteEventAborts) {
  EXPECT_DEATH(
      {
        SimOptions slow;
        slow.min_delay_us = slow.max_delay_us = 200000;
        SimBackend sim(slow);
        auto a = sim.record_event();
        auto b = sim.record_event();
        sim.elapsed_s(*a, *b);
      },
      "has not completed");
  EXPECT_DEATH(
      {
        SimBackend sim;
        CpuBackend cpu;
        cpu.wait_event(*sim.record_event());
      },
      "not recorded by a cpu backend");
}

TEST(SimBackend, DelayVariableIsParsedAndBadValuesNameIt) {
  ::setenv("POUCH_SIM_DELAY_US", "5:40", 1);
  SimOptions o = SimOptions::from_env();
  EXPECT_EQ(o.min_delay_us, 5);
  EXPECT_EQ(o.max_delay_us, 40);
  ::setenv("POUCH_SIM_DELAY_US", "lots", 1);
  try {
    SimOptions::from_env();
    FAIL() << "expected pouch::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("POUCH_SIM_DELAY_US"), std::string::npos) << e.what();
  }
  ::unsetenv("POUCH_SIM_DELAY_US");
}

}  // namespace
}  // namespace pouch
