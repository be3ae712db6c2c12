// parallel/staging_buffer_pool.h: a buffer comes back only after its event
// has completed, sizes are kept apart, and the staged communicator reuses its
// buffers across the collectives of later steps while every result stays
// right under the sim device's random delays (a buffer handed out while the
// device still read it would corrupt a later result).
#include <gtest/gtest.h>

#include <memory>

#include "parallel/fake_communicator.h"
#include "parallel/staged_communicator.h"
#include "parallel/staging_buffer_pool.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/sim/sim_backend.h"
#include "tests/parallel/collective_reference.h"
#include "tests/parallel/fake_ranks.h"

namespace pouch {
namespace {

// An event the test completes by hand.
struct ManualEvent final : DeviceEvent {
  bool done = false;
  bool query() const override { return done; }
  void synchronize() override { done = true; }
};

TEST(StagingBufferPool, ABufferReturnsOnlyOnceItsLastDeviceUseIsComplete) {
  CpuBackend be;
  StagingBufferPool pool(be);
  Tensor a = pool.acquire({4, 8}, DType::F32);
  const void* first = a.raw();
  auto ev = std::make_shared<ManualEvent>();
  pool.release(a, ev);
  Tensor b = pool.acquire({32}, DType::F32);  // same size, its event pending: a new buffer
  EXPECT_NE(b.raw(), first);
  ev->done = true;
  Tensor c = pool.acquire({8, 4}, DType::F32);  // now reused, in the shape asked for
  EXPECT_EQ(c.raw(), first);
  EXPECT_EQ(c.shape(), (Shape{8, 4}));
  EXPECT_EQ(pool.allocations(), 2);
  EXPECT_EQ(pool.reuses(), 1);
  pool.release(c, nullptr);
  EXPECT_NE(pool.acquire({32}, DType::I32).raw(), first) << "another dtype must not share the buffer";
  EXPECT_NE(pool.acquire({33}, DType::F32).raw(), first) << "another size must not share the buffer";
  EXPECT_EQ(pool.acquire({32}, DType::F32).raw(), first);
}

TEST(StagingBufferPool, StagedCollectivesReuseTheirBuffersAndStayRight) {
  const int world = 2, steps = 12;
  const std::int64_t n = 777;
  auto host_world = std::make_shared<FakeWorld>(world, "tp/staged");
  test::on_ranks(world, [&](int r) {
    SimOptions o;
    o.min_delay_us = 0;
    o.max_delay_us = 200;
    o.delay_seed = 5 + static_cast<std::uint64_t>(r);
    SimBackend be(o);
    StagedCommunicator comm(std::make_unique<FakeCommunicator>(host_world, r, CommOptions{5.0, nullptr, nullptr}), be,
                            "tp", 5.0);
    for (int step = 0; step < steps; ++step) {
      const auto salt = static_cast<std::uint32_t>(100 + step);
      Tensor host = test::rank_data(DType::F32, n, r, salt);
      Tensor a = be.empty({n});
      be.copy(a, host);
      comm.all_reduce(a, ReduceOp::Sum);  // the next step's acquire may find the copy back still queued
      Tensor got = Tensor::empty({n});
      be.copy(got, a);
      test::expect_close(test::as_doubles(got), test::reference_reduce(DType::F32, n, world, salt, ReduceOp::Sum),
                         DType::F32, "step " + std::to_string(step));
    }
    // Each step's copy to the host waited for the device, so every later
    // step found the buffer free: one allocation for all of them.
    EXPECT_EQ(comm.staging_buffers().allocations(), 1);
    EXPECT_EQ(comm.staging_buffers().reuses(), steps - 1);
  });
}

}  // namespace
}  // namespace pouch
