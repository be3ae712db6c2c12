// fp32 master weights behind a 16-bit working copy
// (runtime/mixed_precision_weights.h): the parameters point at a working copy
// that holds only representable values, the store's values stay the masters
// and keep updates too small for bf16, the gradient unscale finds inf/NaN,
// and on the simulated device the same steps give the same bits.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "runtime/adamw_optimizer.h"
#include "runtime/backend.h"
#include "runtime/mixed_precision_weights.h"
#include "runtime/parameter_store.h"
#include "runtime/sim/sim_backend.h"

namespace pouch {
namespace {

// Two parameters (a matrix and a bias, so the flat buffer has padding
// between them) filled with N(0, 1) * 3, on `device`.
struct Model {
  std::unique_ptr<Backend> be;
  ParameterStore store;
  explicit Model(std::unique_ptr<Backend> backend = make_backend(Device::CPU)) : be(std::move(backend)) {
    store.add("w", {7, 5});
    store.add("b", {3});
    store.allocate(*be);
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.0f, 3.0f);
    Tensor host = Tensor::zeros(store.values().shape());
    for (const auto& p : store)
      for (std::int64_t i = 0; i < p.value.numel(); ++i) host.f32()[p.offset + i] = dist(rng);
    be->copy(store.values(), host);
  }
  std::vector<float> read(const Tensor& t) const {
    Tensor host = Tensor::empty(t.shape());
    be->copy(host, t);
    return {host.f32(), host.f32() + host.numel()};
  }
};

std::uint32_t bits(float f) { return std::bit_cast<std::uint32_t>(f); }

TEST(MixedPrecisionWeights, ParametersPointAtTheRoundedWorkingCopyAndBackAtTheEnd) {
  for (Precision prec : {Precision::BF16, Precision::FP16}) {
    Model m;
    const Tensor original = m.store.values().clone();
    {
      MixedPrecisionWeights mp(*m.be, m.store, prec);
      EXPECT_EQ(mp.master().raw(), m.store.values().raw());  // the store keeps the masters
      auto* narrow_one = prec == Precision::BF16 ? f32_to_bf16 : f32_to_f16;
      auto* widen_one = prec == Precision::BF16 ? bf16_to_f32 : f16_to_f32;
      int changed = 0;
      for (const auto& p : m.store) {
        EXPECT_EQ(p.value.f32(), mp.working().f32() + p.offset) << p.name;
        EXPECT_EQ(mp.master_of(p).f32(), mp.master().f32() + p.offset) << p.name;
        for (std::int64_t i = 0; i < p.value.numel(); ++i) {
          const float master = mp.master_of(p).f32()[i], work = p.value.f32()[i];
          ASSERT_EQ(bits(master), bits(original.f32()[p.offset + i])) << i;  // the untouched fp32 init
          ASSERT_EQ(bits(work), bits(widen_one(narrow_one(master)))) << i;
          ASSERT_EQ(bits(widen_one(narrow_one(work))), bits(work)) << i;  // exactly representable
          changed += work != master;
        }
      }
      EXPECT_GT(changed, 30) << precision_name(prec);  // rounding really happened
    }
    for (const auto& p : m.store) EXPECT_EQ(p.value.f32(), m.store.values().f32() + p.offset) << p.name;
  }
}

TEST(MixedPrecisionWeights, MastersKeepUpdatesSmallerThanABf16Ulp) {
  // w = 1 and AdamW steps of ~lr = 1e-3 each: below half a bf16 ulp at 1
  // (2^-8 / 2 = 1.95e-3), so bf16 weights updated in place never move.
  OptimConfig cfg;
  cfg.lr = 1e-3f;
  cfg.weight_decay = 0.0f;
  cfg.grad_clip = 0.0f;
  constexpr int kSteps = 20;

  Model plain;
  plain.store.values().fill_(1.0f);
  AdamWOptimizer plain_opt(plain.store, cfg, *plain.be);
  for (int s = 0; s < kSteps; ++s) {
    plain.store.grads().fill_(1.0f);
    plain_opt.step(cfg.lr);
    round_to_precision(Precision::BF16, plain.store.values().f32(), plain.store.values().numel());
  }
  EXPECT_EQ(plain.store[0].value.f32()[0], 1.0f) << "plain bf16 weights should have lost every update";

  Model mixed;
  mixed.store.values().fill_(1.0f);
  MixedPrecisionWeights mp(*mixed.be, mixed.store, Precision::BF16);
  AdamWOptimizer opt(mixed.store, cfg, *mixed.be);
  for (int s = 0; s < kSteps; ++s) {
    mixed.store.grads().fill_(1.0f);
    opt.step(cfg.lr);  // steps the masters in place
    mp.refresh_working_copy();
  }
  // Adam with a constant gradient steps by lr (1 - eps-ish) each time.
  const float master = mp.master_of(mixed.store[0]).f32()[0];
  EXPECT_NEAR(master, 1.0f - kSteps * cfg.lr, 1e-5f);
  const float work = mixed.store[0].value.f32()[0];
  EXPECT_EQ(work, bf16_to_f32(f32_to_bf16(master)));
  EXPECT_LT(work, 1.0f);
}

TEST(MixedPrecisionWeights, UnscaleDividesAndFindsNonFinite) {
  Model m;
  MixedPrecisionWeights mp(*m.be, m.store, Precision::FP16);
  const std::int64_t n = m.store.grads().numel();
  float* g = m.store.grads().f32();
  for (std::int64_t i = 0; i < n; ++i) g[i] = static_cast<float>(i % 13) - 6.0f;
  const Tensor expected = m.store.grads().clone();
  for (std::int64_t i = 0; i < n; ++i) g[i] *= 1024.0f;
  EXPECT_FALSE(mp.unscale_and_check(1.0f / 1024.0f));
  EXPECT_EQ(std::memcmp(g, expected.f32(), expected.nbytes()), 0);  // power of two: exact

  for (float bad : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    g[m.store[1].offset + 1] = bad;
    EXPECT_TRUE(mp.unscale_and_check(0.5f)) << bad;
    g[m.store[1].offset + 1] = 0.0f;
    EXPECT_FALSE(mp.unscale_and_check(1.0f));
  }
  // A finite gradient that the unscale itself pushes past fp32's range counts too.
  g[0] = std::numeric_limits<float>::max();
  EXPECT_TRUE(mp.unscale_and_check(4.0f));
}

TEST(MixedPrecisionWeights, Fp16WorkingCopyOverflowsToInfButMasterKeepsTheValue) {
  Model m;
  m.store[1].value.f32()[0] = 1e5f;
  MixedPrecisionWeights mp(*m.be, m.store, Precision::FP16);
  EXPECT_TRUE(std::isinf(m.store[1].value.f32()[0]));
  EXPECT_EQ(mp.master_of(m.store[1]).f32()[0], 1e5f);
}

TEST(MixedPrecisionWeights, ResumeLoadsMastersThenRefreshes) {
  Model a;
  MixedPrecisionWeights mpa(*a.be, a.store, Precision::BF16);
  Model b;  // same init; now overwrite its masters as a checkpoint load would
  b.store.values().fill_(0.0f);
  MixedPrecisionWeights mpb(*b.be, b.store, Precision::BF16);
  for (std::size_t i = 0; i < a.store.size(); ++i) mpb.master_of(b.store[i]).copy_from(mpa.master_of(a.store[i]));
  mpb.refresh_working_copy();
  EXPECT_EQ(std::memcmp(mpb.working().raw(), mpa.working().raw(), mpa.working().nbytes()), 0);
  EXPECT_EQ(std::memcmp(mpb.master().raw(), mpa.master().raw(), mpa.master().nbytes()), 0);
}

TEST(MixedPrecisionWeights, Fp32IsANoOp) {
  Model m;
  const Tensor original = m.store.values().clone();
  const std::int64_t syncs = m.be->host_syncs();
  MixedPrecisionWeights mp(*m.be, m.store, Precision::FP32);
  EXPECT_EQ(mp.master().raw(), m.store.values().raw());  // no second copy
  EXPECT_FALSE(mp.working().defined());
  for (const auto& p : m.store) EXPECT_EQ(p.value.f32(), m.store.values().f32() + p.offset);
  m.store.grads().fill_(std::numeric_limits<float>::infinity());
  EXPECT_FALSE(mp.unscale_and_check(0.5f));
  EXPECT_TRUE(std::isinf(m.store.grads().f32()[0]));  // untouched
  mp.refresh_working_copy();
  EXPECT_EQ(std::memcmp(m.store.values().raw(), original.raw(), original.nbytes()), 0);
  EXPECT_EQ(m.be->host_syncs(), syncs);
}

// The same steps on the simulated device (random delays on) as on the CPU:
// masters, working copy and the overflow flags bitwise equal; each
// unscale_and_check reads one flag back, one host sync.
TEST(MixedPrecisionWeights, SimDeviceStepsAreBitwiseTheCpuSteps) {
  SimOptions delays;
  delays.max_delay_us = 30;
  Model cpu;
  Model sim(std::make_unique<SimBackend>(delays));

  OptimConfig cfg;
  cfg.lr = 1e-2f;
  cfg.grad_clip = 0.0f;
  std::vector<std::vector<float>> masters, working;
  for (Model* m : {&cpu, &sim}) {
    MixedPrecisionWeights mp(*m->be, m->store, Precision::FP16);
    AdamWOptimizer opt(m->store, cfg, *m->be);
    std::vector<int> flags;
    for (int s = 0; s < 5; ++s) {
      Tensor g = Tensor::empty(m->store.grads().shape());
      for (std::int64_t i = 0; i < g.numel(); ++i) g.f32()[i] = 256.0f * static_cast<float>((i * 7 + s) % 11 - 5);
      if (s == 3) g.f32()[4] = std::numeric_limits<float>::infinity();
      m->be->copy(m->store.grads(), g);
      const std::int64_t before = m->be->host_syncs();
      const bool found = mp.unscale_and_check(1.0f / 256.0f);
      if (m == &sim) {
        EXPECT_EQ(m->be->host_syncs() - before, 1) << "step " << s;
      }
      flags.push_back(found);
      if (!found) {
        opt.step(cfg.lr);
        mp.refresh_working_copy();
      }
    }
    EXPECT_EQ(flags, (std::vector<int>{0, 0, 0, 1, 0}));
    masters.push_back(m->read(mp.master()));
    working.push_back(m->read(mp.working()));
    EXPECT_EQ(m->store[1].value.raw(), static_cast<const char*>(mp.working().raw()) + 4 * m->store[1].offset);
  }
  EXPECT_EQ(masters[0], masters[1]);
  EXPECT_EQ(working[0], working[1]);
  EXPECT_NE(masters[0], working[0]);  // fp16 rounding really happened
}

}  // namespace
}  // namespace pouch
