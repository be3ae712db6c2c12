// Backend::fill, copy, copy_2d, clone and empty_host on the CPU backend, on
// odd sizes against hand loops; events, synchronize and the host-sync
// counter; ProfilingBackend forwards them.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "runtime/profiling_backend.h"
#include "tests/runtime/reference_ops.h"

namespace pouch {
namespace {

using ref::i64;

constexpr i64 kOddSizes[] = {1, 7, 63, 1000, 1023};

TEST(BackendMemory, FillF32F64I32OnOddSizes) {
  auto be = make_backend(Device::CPU);
  for (i64 n : kOddSizes) {
    Tensor f = ref::nan_tensor({n});
    be->fill(f, -2.5f);
    for (i64 i = 0; i < n; ++i) ASSERT_EQ(f.f32()[i], -2.5f) << "n=" << n << " i=" << i;
    be->fill(f, 0.0f);
    for (i64 i = 0; i < n; ++i) ASSERT_EQ(f.f32()[i], 0.0f) << "n=" << n << " i=" << i;
    for (i64 i = 0; i < n; ++i) ASSERT_FALSE(std::signbit(f.f32()[i]));
    be->fill(f, -0.0f);
    for (i64 i = 0; i < n; ++i) ASSERT_TRUE(std::signbit(f.f32()[i])) << "-0 must stay -0";

    Tensor d = Tensor::empty({n}, DType::F64);
    be->fill(d, 0.25f);
    for (i64 i = 0; i < n; ++i) ASSERT_EQ(d.data<double>()[i], 0.25);

    Tensor k = Tensor::empty({n}, DType::I32);
    be->fill(k, -7.0f);
    for (i64 i = 0; i < n; ++i) ASSERT_EQ(k.i32()[i], -7);
  }
}

TEST(BackendMemory, FillZeroClearsSixteenBitTensors) {
  auto be = make_backend(Device::CPU);
  Tensor h = Tensor::empty({63}, DType::BF16);
  for (i64 i = 0; i < h.numel(); ++i) h.data<bf16>()[i].bits = 0xffff;
  be->fill(h, 0.0f);
  for (i64 i = 0; i < h.numel(); ++i) ASSERT_EQ(h.data<bf16>()[i].bits, 0);
}

TEST(BackendMemory, CopyOnOddSizesAndDtypes) {
  auto be = make_backend(Device::CPU);
  for (i64 n : kOddSizes) {
    const auto x = ref::random_floats(n, static_cast<std::uint32_t>(n));
    Tensor src = ref::make_tensor(x, {n});
    Tensor dst = ref::nan_tensor({1, n});  // another shape, the same numel
    be->copy(dst, src);
    for (i64 i = 0; i < n; ++i) ASSERT_EQ(dst.f32()[i], x[static_cast<std::size_t>(i)]) << "n=" << n;

    Tensor ids = Tensor::empty({n}, DType::I32), ids2 = Tensor::empty({n}, DType::I32);
    for (i64 i = 0; i < n; ++i) ids.i32()[i] = static_cast<std::int32_t>(3 * i - 5);
    be->copy(ids2, ids);
    for (i64 i = 0; i < n; ++i) ASSERT_EQ(ids2.i32()[i], 3 * i - 5);
  }
  // A copy onto itself is allowed and changes nothing.
  Tensor t = ref::make_tensor({1.0f, 2.0f}, {2});
  be->copy(t, t);
  EXPECT_EQ(t.f32()[1], 2.0f);
}

TEST(BackendMemory, CopyIntoAViewLeavesTheRestAlone) {
  auto be = make_backend(Device::CPU);
  Tensor big = Tensor::zeros({10});
  be->copy(big.view(3, {4}), ref::make_tensor({1, 2, 3, 4}, {4}));
  const float want[10] = {0, 0, 0, 1, 2, 3, 4, 0, 0, 0};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(big.f32()[i], want[i]) << i;
}

// dst rows of `dst_stride`, src rows of `src_stride`; row_elems copied of each.
void check_copy_2d(Backend& be, i64 rows, i64 row_elems, i64 dst_stride, i64 src_stride) {
  const i64 src_n = rows * src_stride, dst_n = rows * dst_stride;
  const auto x = ref::random_floats(src_n, static_cast<std::uint32_t>(rows * 131 + row_elems));
  Tensor src = ref::make_tensor(x, {src_n});
  Tensor dst = ref::nan_tensor({dst_n});
  be.copy_2d(dst, dst_stride, src, src_stride, rows, row_elems);
  for (i64 r = 0; r < rows; ++r)
    for (i64 c = 0; c < dst_stride; ++c) {
      const float got = dst.f32()[r * dst_stride + c];
      if (c < row_elems)
        ASSERT_EQ(got, x[static_cast<std::size_t>(r * src_stride + c)])
            << "rows=" << rows << " row_elems=" << row_elems << " r=" << r << " c=" << c;
      else
        ASSERT_TRUE(std::isnan(got)) << "copy_2d wrote past row_elems at r=" << r << " c=" << c;
    }
}

TEST(BackendMemory, Copy2dStridedRowsOnOddShapes) {
  auto be = make_backend(Device::CPU);
  for (i64 rows : {1, 7, 63})
    for (i64 row_elems : kOddSizes) {
      check_copy_2d(*be, rows, row_elems, row_elems, row_elems);          // dense
      check_copy_2d(*be, rows, row_elems, row_elems + 3, 3 * row_elems);  // both strided
      check_copy_2d(*be, rows, row_elems, 2 * row_elems + 1, row_elems);  // gather into a wider dst
    }
}

TEST(BackendMemory, Copy2dOfTheDecodeSplitShape) {
  // q = columns [0, C) of qkv [B, 3C], as Block::decode splits it.
  auto be = make_backend(Device::CPU);
  const i64 B = 3, C = 7;
  const auto x = ref::random_floats(B * 3 * C, 5);
  Tensor qkv = ref::make_tensor(x, {B, 3 * C}), q = ref::nan_tensor({B, C});
  be->copy_2d(q, C, qkv, 3 * C, B, C);
  for (i64 b = 0; b < B; ++b)
    for (i64 c = 0; c < C; ++c) ASSERT_EQ(q.f32()[b * C + c], x[static_cast<std::size_t>(b * 3 * C + c)]);
}

TEST(BackendMemory, CloneIsADeepCopyOnTheBackendsDevice) {
  auto be = make_backend(Device::CPU);
  for (i64 n : kOddSizes) {
    const auto x = ref::random_floats(n, static_cast<std::uint32_t>(n + 9));
    Tensor src = ref::make_tensor(x, {n, 1});
    Tensor c = be->clone(src);
    EXPECT_EQ(c.shape(), src.shape());
    EXPECT_EQ(c.device(), Device::CPU);
    EXPECT_NE(c.raw(), src.raw());
    for (i64 i = 0; i < n; ++i) ASSERT_EQ(c.f32()[i], x[static_cast<std::size_t>(i)]);
    src.f32()[0] = 42.0f;
    EXPECT_EQ(c.f32()[0], x[0]) << "the clone shares memory with its source";
  }
}

TEST(BackendMemory, EmptyHostIsAHostTensor) {
  auto be = make_backend(Device::CPU);
  Tensor h = be->empty_host({4, 5}, DType::I32);
  EXPECT_EQ(h.device(), Device::CPU);
  EXPECT_EQ(h.dtype(), DType::I32);
  EXPECT_EQ(h.numel(), 20);
  h.i32()[19] = 1;  // host-writable
}

TEST(BackendEvents, CpuEventsAreCompleteAtCreationAndOrdered) {
  auto be = make_backend(Device::CPU);
  auto e0 = be->record_event();
  ASSERT_NE(e0, nullptr);
  EXPECT_TRUE(e0->query());
  volatile double sink = 0.0;
  for (int i = 0; i < 100000; ++i) sink = sink + std::sqrt(static_cast<double>(i));
  auto e1 = be->record_event();
  EXPECT_TRUE(e1->query());
  be->wait_event(*e0);
  const double dt = be->elapsed_s(*e0, *e1);
  EXPECT_GE(dt, 0.0);
  EXPECT_LT(dt, 60.0);
  EXPECT_EQ(be->elapsed_s(*e0, *e0), 0.0);
  EXPECT_EQ(be->stream_handle(), nullptr);
}

TEST(BackendEvents, HostSyncsCountSynchronizeAndEventWaitsOnly) {
  auto be = make_backend(Device::CPU);
  EXPECT_EQ(be->host_syncs(), 0);
  be->synchronize();
  be->synchronize();
  EXPECT_EQ(be->host_syncs(), 2);
  auto e = be->record_event();
  be->wait_event(*e);  // the stream waits, not the host
  EXPECT_EQ(be->host_syncs(), 2);
  e->synchronize();
  EXPECT_EQ(be->host_syncs(), 3);
  // Host-to-host copies and fills do not block on device work.
  Tensor a = Tensor::zeros({7}), b = Tensor::zeros({7});
  be->copy(a, b);
  be->fill(a, 1.0f);
  EXPECT_EQ(be->host_syncs(), 3);
  // The counter is per backend.
  auto other = make_backend(Device::CPU);
  EXPECT_EQ(other->host_syncs(), 0);
  // An event outlives its backend and still counts into the shared counter safely.
  be.reset();
  e->synchronize();
}

TEST(BackendEvents, ProfilingBackendForwardsMemoryAndOrdering) {
  auto cpu = make_backend(Device::CPU);
  ProfilingBackend prof(*cpu);
  Tensor a = Tensor::zeros({63}), b = ref::make_tensor(ref::random_floats(63, 3), {63});
  prof.copy(a, b);
  for (i64 i = 0; i < 63; ++i) ASSERT_EQ(a.f32()[i], b.f32()[i]);
  prof.copy_2d(a, 9, b, 9, 7, 2);
  prof.fill(a, 5.0f);
  EXPECT_EQ(a.f32()[62], 5.0f);
  Tensor c = prof.clone(b);
  EXPECT_EQ(c.f32()[5], b.f32()[5]);
  EXPECT_EQ(prof.empty_host({3}, DType::F32).device(), Device::CPU);
  prof.synchronize();
  EXPECT_EQ(prof.host_syncs(), 1);
  EXPECT_EQ(cpu->host_syncs(), 1);
  auto e0 = prof.record_event(), e1 = prof.record_event();
  EXPECT_GE(prof.elapsed_s(*e0, *e1), 0.0);
  EXPECT_EQ(prof.stream_handle(), nullptr);
  EXPECT_EQ(prof.timings().at("copy").calls, 3);
  EXPECT_EQ(prof.timings().at("fill").calls, 1);
}

TEST(BackendMemoryDeathTest, CpuBackendRefusesDeviceTensors) {
  auto be = make_backend(Device::CPU);
  std::vector<float> mem(4);
  Tensor sim = Tensor::wrap(mem.data(), {4}, DType::F32, Device::Sim), host = Tensor::zeros({4});
  EXPECT_DEATH(be->copy(host, sim), "on device sim");
  EXPECT_DEATH(be->fill(sim, 1.0f), "on device sim");
}

TEST(BackendMemoryDeathTest, Copy2dRefusesRowsBeyondTheTensor) {
  auto be = make_backend(Device::CPU);
  Tensor src = Tensor::zeros({20}), dst = Tensor::zeros({20});
  // 3 rows of 5 at stride 8 end at 2 * 8 + 5 = 21 > 20.
  EXPECT_DEATH(be->copy_2d(dst, 8, src, 5, 3, 5), "exceed dst");
  EXPECT_DEATH(be->copy_2d(dst, 5, src, 4, 3, 5), "strides");
}

}  // namespace
}  // namespace pouch
