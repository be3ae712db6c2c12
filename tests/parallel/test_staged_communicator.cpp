// parallel/staged_communicator.h and device_communicator.h: collectives on
// sim device tensors over FakeCommunicator ranks, each rank with its own
// SimBackend with random delays on (a result read before its wait shows as a
// wrong value). Every collective against the double reference, async
// overlap with compute, the wait contract (no backend host sync), device
// mismatches named by group and rank, failures and late peers surfacing as
// errors, and the test-only skipped wait caught.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "parallel/device_communicator.h"
#include "parallel/fake_communicator.h"
#include "parallel/parallel_context.h"
#include "parallel/staged_communicator.h"
#include "parallel/watchdog.h"
#include "runtime/sim/sim_backend.h"
#include "tests/parallel/collective_reference.h"
#include "tests/parallel/fake_ranks.h"

namespace pouch {
namespace {

using test::as_doubles;
using test::expect_close;
using test::on_ranks;
using test::rank_data;
using test::reference_reduce;

SimOptions delayed(int rank) {
  SimOptions o;
  o.min_delay_us = 0;
  o.max_delay_us = 200;
  o.delay_seed = 17 + static_cast<std::uint64_t>(rank);
  return o;
}

Tensor to_device(Backend& be, const Tensor& host) {
  Tensor d = be.empty(host.shape(), host.dtype());
  be.copy(d, host);
  return d;
}

Tensor to_host(Backend& be, const Tensor& d) {
  Tensor h = Tensor::empty(d.shape(), d.dtype());
  be.copy(h, d);  // pageable: waits
  return h;
}

// One rank: its sim backend and its staged communicator over rank r of
// `world` (the staging host group).
struct Rank {
  SimBackend be;
  StagedCommunicator comm;
  Rank(const std::shared_ptr<FakeWorld>& world, int r, const CommOptions& o = {5.0, nullptr, nullptr})
      : be(delayed(r)), comm(std::make_unique<FakeCommunicator>(world, r, o), be, "tp", o.timeout_s) {}
};

TEST(StagedCommunicator, EveryCollectiveOfDeviceTensorsMatchesTheReference) {
  const int world = 3;
  auto host_world = std::make_shared<FakeWorld>(world, "tp/staged");
  on_ranks(world, [&](int r) {
    Rank me(host_world, r);
    for (DType dtype : {DType::F32, DType::F64, DType::I32}) {
      const std::uint32_t salt = 10 + static_cast<std::uint32_t>(dtype);
      const std::string tag = std::string(dtype_name(dtype)) + " rank " + std::to_string(r);
      Tensor t = to_device(me.be, rank_data(dtype, 41, r, salt));
      me.comm.all_reduce(t, ReduceOp::Sum);
      expect_close(as_doubles(to_host(me.be, t)), reference_reduce(dtype, 41, world, salt, ReduceOp::Sum), dtype,
                   "all_reduce " + tag);

      Tensor in = to_device(me.be, rank_data(dtype, 5 * world, r, salt + 1)), out = me.be.empty({5}, dtype);
      me.comm.reduce_scatter(out, in, ReduceOp::Max);
      const auto full = reference_reduce(dtype, 5 * world, world, salt + 1, ReduceOp::Max);
      expect_close(as_doubles(to_host(me.be, out)), std::vector<double>(full.begin() + 5 * r, full.begin() + 5 * r + 5),
                   dtype, "reduce_scatter " + tag);

      Tensor piece = to_device(me.be, rank_data(dtype, 4, r, salt + 2)), all = me.be.empty({4 * world}, dtype);
      me.comm.all_gather(all, piece);
      const auto got = as_doubles(to_host(me.be, all));
      for (int src = 0; src < world; ++src) {
        const auto want = as_doubles(rank_data(dtype, 4, src, salt + 2));
        for (int i = 0; i < 4; ++i) EXPECT_EQ(got[static_cast<std::size_t>(src * 4 + i)], want[i]) << tag;
      }

      Tensor b = to_device(me.be, rank_data(dtype, 9, r, salt + 3));
      me.comm.broadcast(b, 2);
      EXPECT_EQ(as_doubles(to_host(me.be, b)), as_doubles(rank_data(dtype, 9, 2, salt + 3))) << "broadcast " << tag;
    }
    me.comm.barrier();
  });
}

// Issued, then compute on other tensors and a second collective before the
// first wait: both results right, in issue order, and wait() costs no
// backend host sync (the result reaches later compute by stream order).
TEST(StagedCommunicator, AsyncWorkOverlapsComputeAndOrdersLaterWork) {
  const int world = 2;
  auto host_world = std::make_shared<FakeWorld>(world, "tp/staged");
  on_ranks(world, [&](int r) {
    Rank me(host_world, r);
    const std::int64_t n = 4096;
    Tensor a = to_device(me.be, rank_data(DType::F32, n, r, 1)), c = to_device(me.be, rank_data(DType::F32, n, r, 2));
    Tensor other = to_device(me.be, rank_data(DType::F32, n, r, 3));
    const std::int64_t syncs = me.be.host_syncs();
    WorkHandle wa = me.comm.all_reduce_async(a, ReduceOp::Sum);
    for (int i = 0; i < 8; ++i) me.be.scale(other, 1.5f);  // overlaps the all-reduce of a
    WorkHandle wc = me.comm.all_reduce_async(c, ReduceOp::Sum);
    EXPECT_EQ(wa->sequence(), 1u);
    EXPECT_EQ(wc->sequence(), 2u);
    wa->wait();
    me.be.scale(a, 2.0f);  // must see the reduced a
    wc->wait();
    EXPECT_EQ(me.be.host_syncs(), syncs) << "wait() on device work blocked the backend";
    auto want = reference_reduce(DType::F32, n, world, 1, ReduceOp::Sum);
    for (double& x : want) x = static_cast<double>(static_cast<float>(x) * 2.0f);
    expect_close(as_doubles(to_host(me.be, a)), want, DType::F32, "a after wait");
    expect_close(as_doubles(to_host(me.be, c)), reference_reduce(DType::F32, n, world, 2, ReduceOp::Sum), DType::F32,
                 "c");
  });
}

TEST(StagedCommunicator, MismatchedDevicesAreNamedWithGroupAndRank) {
  SimBackend be(delayed(0));
  auto host_world = std::make_shared<FakeWorld>(1, "tp/staged");
  auto device = std::make_unique<StagedCommunicator>(std::make_unique<FakeCommunicator>(host_world, 0), be, "tp", 5.0);
  auto own_world = std::make_shared<FakeWorld>(1, "tp");
  DeviceCommunicator routed(std::make_unique<FakeCommunicator>(own_world, 0), std::move(device));
  Tensor host_t = Tensor::zeros({4}), dev_t = be.zeros({4});
  try {
    routed.all_gather(host_t, dev_t);
    FAIL() << "a host out and a device in were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("all_gather on group 'tp' (rank 0): out is on cpu but in is on sim"),
              std::string::npos)
        << e.what();
  }
  // The host path still takes host tensors, the staged path device tensors.
  routed.all_reduce(host_t, ReduceOp::Sum);
  routed.all_reduce(dev_t, ReduceOp::Sum);
  auto& staged = dynamic_cast<StagedCommunicator&>(routed.device());
  try {
    staged.broadcast(host_t, 0);
    FAIL() << "the staged path accepted a host tensor";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broadcast on group 'tp' (rank 0): the tensor is on cpu, but this "
                                         "communicator stages sim tensors"),
              std::string::npos)
        << e.what();
  }
  Tensor wrong = be.zeros({3});
  EXPECT_THROW(staged.all_gather(wrong, dev_t), Error);  // the host rules (sizes), checked at issue
}

TEST(StagedCommunicator, FailureAndLatePeerSurfaceInWait) {
  auto host_world = std::make_shared<FakeWorld>(2, "tp/staged");
  host_world->inject_failure(1, 2);
  auto policy = std::make_shared<RecordingPolicy>();
  std::vector<std::string> second(2), third(2);
  on_ranks(2, [&](int r) {
    Rank me(host_world, r, {0.3, nullptr, policy});
    Tensor t = me.be.zeros({8});
    me.comm.all_reduce(t, ReduceOp::Sum);
    try {
      me.comm.all_reduce(t, ReduceOp::Sum);
    } catch (const CollectiveError& e) {
      second[static_cast<std::size_t>(r)] = e.what();
    }
  });
  for (int r = 0; r < 2; ++r)
    EXPECT_NE(second[static_cast<std::size_t>(r)].find("injected failure on rank 1 at collective 2"), std::string::npos)
        << second[static_cast<std::size_t>(r)];

  auto late_world = std::make_shared<FakeWorld>(2, "tp/staged");
  late_world->inject_delay(1, 1, std::chrono::milliseconds(800));
  const auto start = std::chrono::steady_clock::now();
  on_ranks(2, [&](int r) {
    Rank me(late_world, r, {0.3, nullptr, policy});
    Tensor t = me.be.zeros({8});
    try {
      me.comm.all_reduce(t, ReduceOp::Sum);
    } catch (const CollectiveError& e) {
      third[static_cast<std::size_t>(r)] = e.what();
    }
  });
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  EXPECT_NE(third[0].find("waiting for rank 1"), std::string::npos) << third[0];
  EXPECT_FALSE(policy->reports().empty());
}

// The test-only switch drops the wait of group "tp": the copy back runs
// before the peer (late by 100 ms) has contributed, so the sim device shows
// the unreduced value. Without the switch the same run is right.
TEST(StagedCommunicator, SkippedWaitIsCaughtOnSim) {
  for (bool skip : {false, true}) {
    if (skip)
      setenv("POUCH_TEST_SKIP_COMM_WAIT", "tp", 1);
    else
      unsetenv("POUCH_TEST_SKIP_COMM_WAIT");
    auto host_world = std::make_shared<FakeWorld>(2, "tp/staged");
    host_world->inject_delay(1, 1, std::chrono::milliseconds(100));
    std::vector<float> got(2);
    on_ranks(2, [&](int r) {
      Rank me(host_world, r);
      Tensor t = me.be.empty({1});
      me.be.fill(t, static_cast<float>(r + 1));
      me.comm.all_reduce(t, ReduceOp::Sum);
      got[static_cast<std::size_t>(r)] = to_host(me.be, t).f32()[0];
    });
    if (skip)
      EXPECT_NE(got[0], 3.0f) << "a dropped wait went unnoticed";
    else
      EXPECT_EQ(got, (std::vector<float>{3.0f, 3.0f}));
  }
  unsetenv("POUCH_TEST_SKIP_COMM_WAIT");
}

// attach_device on fake contexts: host tensors keep the host path, device
// tensors take the staged one, on every group.
TEST(StagedCommunicator, AttachDeviceRoutesEachGroup) {
  auto ranks = ParallelContext::fake({2, 2});
  on_ranks(4, [&](int r) {
    ParallelContext& ctx = *ranks[static_cast<std::size_t>(r)];
    SimBackend be(delayed(r));
    ctx.attach_device(be);
    for (Communicator* c : {&ctx.world(), &ctx.tp(), &ctx.dp()}) {
      Tensor host_t = Tensor::empty({2});
      host_t.fill_(1.0f);
      c->all_reduce(host_t, ReduceOp::Sum);
      Tensor dev_t = be.empty({2});
      be.fill(dev_t, 2.0f);
      c->all_reduce(dev_t, ReduceOp::Sum);
      EXPECT_EQ(host_t.f32()[0], static_cast<float>(c->size())) << c->name();
      EXPECT_EQ(to_host(be, dev_t).f32()[1], 2.0f * static_cast<float>(c->size())) << c->name();
    }
  });
}

}  // namespace
}  // namespace pouch
