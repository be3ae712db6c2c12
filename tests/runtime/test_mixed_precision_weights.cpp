// fp32 master weights behind a 16-bit working copy
// (runtime/mixed_precision_weights.h): the working copy holds only
// representable values, the masters keep updates too small for bf16, and the
// gradient unscale finds inf/NaN.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "runtime/adamw_optimizer.h"
#include "runtime/backend.h"
#include "runtime/mixed_precision_weights.h"
#include "runtime/parameter_store.h"

namespace pouch {
namespace {

// Two parameters (a matrix and a bias, so the flat buffer has padding
// between them) filled with N(0, 1) * 3.
struct Model {
  std::unique_ptr<Backend> be = make_backend(Device::CPU);
  ParameterStore store;
  Model() {
    store.add("w", {7, 5});
    store.add("b", {3});
    store.allocate(*be);
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.0f, 3.0f);
    for (auto& p : store)
      for (std::int64_t i = 0; i < p.value.numel(); ++i) p.value.f32()[i] = dist(rng);
  }
};

std::uint32_t bits(float f) { return std::bit_cast<std::uint32_t>(f); }

TEST(MixedPrecisionWeights, WorkingCopyIsTheRoundedMaster) {
  for (Precision prec : {Precision::BF16, Precision::FP16}) {
    Model m;
    const Tensor original = m.store.values().clone();
    MixedPrecisionWeights mp(m.store, prec);
    const std::int64_t n = original.numel();
    auto* narrow_one = prec == Precision::BF16 ? f32_to_bf16 : f32_to_f16;
    auto* widen_one = prec == Precision::BF16 ? bf16_to_f32 : f16_to_f32;
    int changed = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const float master = mp.master().f32()[i], work = m.store.values().f32()[i];
      ASSERT_EQ(bits(master), bits(original.f32()[i])) << i;  // masters are the untouched fp32 init
      ASSERT_EQ(mp.storage().data<std::uint16_t>()[i], narrow_one(master)) << i;
      ASSERT_EQ(bits(work), bits(widen_one(narrow_one(master)))) << i;
      ASSERT_EQ(bits(widen_one(narrow_one(work))), bits(work)) << i;  // exactly representable
      changed += work != master;
    }
    EXPECT_GT(changed, 30) << precision_name(prec);  // rounding really happened
    // Per-parameter master views line up with the store's parameters.
    for (const auto& p : m.store) EXPECT_EQ(mp.master_of(p).f32(), mp.master().f32() + p.offset);
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
  MixedPrecisionWeights mp(mixed.store, Precision::BF16);
  AdamWOptimizer opt(mixed.store, cfg, *mixed.be);
  for (int s = 0; s < kSteps; ++s) {
    mixed.store.grads().fill_(1.0f);
    mp.begin_master_update();
    opt.step(cfg.lr);
    mp.end_master_update();
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
  MixedPrecisionWeights mp(m.store, Precision::FP16);
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
  MixedPrecisionWeights mp(m.store, Precision::FP16);
  EXPECT_TRUE(std::isinf(m.store[1].value.f32()[0]));
  EXPECT_EQ(mp.master_of(m.store[1]).f32()[0], 1e5f);
}

TEST(MixedPrecisionWeights, ResumeLoadsMastersThenRefreshes) {
  Model a;
  MixedPrecisionWeights mpa(a.store, Precision::BF16);
  Model b;  // same init; now overwrite its masters as a checkpoint load would
  b.store.values().fill_(0.0f);
  MixedPrecisionWeights mpb(b.store, Precision::BF16);
  for (std::size_t i = 0; i < a.store.size(); ++i) mpb.master_of(b.store[i]).copy_from(mpa.master_of(a.store[i]));
  mpb.refresh_working_copy();
  EXPECT_EQ(std::memcmp(b.store.values().raw(), a.store.values().raw(), a.store.values().nbytes()), 0);
  EXPECT_EQ(std::memcmp(mpb.master().raw(), mpa.master().raw(), mpa.master().nbytes()), 0);
}

TEST(MixedPrecisionWeights, Fp32IsANoOp) {
  Model m;
  const Tensor original = m.store.values().clone();
  MixedPrecisionWeights mp(m.store, Precision::FP32);
  EXPECT_EQ(mp.master().raw(), m.store.values().raw());  // no second copy
  EXPECT_FALSE(mp.storage().defined());
  m.store.grads().fill_(std::numeric_limits<float>::infinity());
  EXPECT_FALSE(mp.unscale_and_check(0.5f));
  EXPECT_TRUE(std::isinf(m.store.grads().f32()[0]));  // untouched
  mp.begin_master_update();
  mp.end_master_update();
  mp.refresh_working_copy();
  EXPECT_EQ(std::memcmp(m.store.values().raw(), original.raw(), original.nbytes()), 0);
}

}  // namespace
}  // namespace pouch
