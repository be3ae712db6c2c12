// Backend::adamw_update against a hand-written double reference of
// torch.optim.AdamW over several steps, and one step worked by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "runtime/adamw_optimizer.h"
#include "runtime/parameter_store.h"
#include "tests/runtime/reference_ops.h"

namespace pouch {
namespace {

using ref::i64;
using ref::Vec;

TEST(AdamW, OneStepByHand) {
  auto be = make_backend(Device::CPU);
  Tensor p = Tensor::empty({1}), g = Tensor::empty({1}), m = Tensor::zeros({1}), v = Tensor::zeros({1});
  p.fill_(1.0f);
  g.fill_(0.5f);
  AdamWParams hp;
  hp.lr = 0.1f;
  hp.beta1 = 0.9f;
  hp.beta2 = 0.999f;
  hp.weight_decay = 0.5f;
  hp.step = 1;
  be->adamw_update(p, g, m, v, hp);
  // m = 0.05, v = 0.00025, mhat = 0.5, vhat = 0.25: p = 1*(1 - 0.05) - 0.1 * 0.5/(0.5 + 1e-8).
  // The betas are floats: 1 - 0.999f is 0.00099998713, so v is off 0.00025 by 1.3e-5 relative
  // (and the bias correction, made with the same float, cancels it in vhat).
  EXPECT_NEAR(m.f32()[0], 0.05, 0.05 * 1e-6);
  EXPECT_NEAR(v.f32()[0], 0.00025, 0.00025 * 2e-5);
  EXPECT_NEAR(p.f32()[0], 0.85, 1e-6);
}

TEST(AdamW, SeveralStepsMatchReference) {
  auto be = make_backend(Device::CPU);
  for (i64 n : {1, 37, 20011}) {
    const auto p0 = ref::random_floats(n, 1);
    Tensor p = ref::make_tensor(p0, {n}), m = Tensor::zeros({n}), v = Tensor::zeros({n});
    ref::AdamWRef r{ref::to_double(p0), Vec(static_cast<std::size_t>(n), 0.0), Vec(static_cast<std::size_t>(n), 0.0)};
    AdamWParams hp;
    hp.lr = 3e-3f;
    hp.beta1 = 0.9f;
    hp.beta2 = 0.95f;
    hp.eps = 1e-8f;
    hp.weight_decay = 0.1f;
    for (long step = 1; step <= 6; ++step) {
      const auto grad = ref::random_floats(n, static_cast<std::uint32_t>(100 + step), -2.0f, 2.0f);
      hp.step = step;
      hp.grad_scale = step % 2 == 0 ? 0.25f : 1.0f;  // clipping / loss-scale undo
      be->adamw_update(p, ref::make_tensor(grad, {n}), m, v, hp);
      ref::adamw_step(r, ref::to_double(grad), hp);
    }
    EXPECT_TRUE(ref::all_close(p, r.p, 1e-6, 1e-6)) << "param, n=" << n;
    EXPECT_TRUE(ref::all_close(m, r.m, 1e-7, 1e-5)) << "m, n=" << n;
    EXPECT_TRUE(ref::all_close(v, r.v, 1e-8, 1e-5)) << "v, n=" << n;
    // The reference moved far beyond the tolerance, so a no-op update cannot pass.
    double moved = 0.0;
    for (i64 i = 0; i < n; ++i) moved = std::max(moved, std::abs(r.p[i] - p0[i]));
    EXPECT_GT(moved, 1e-4);
  }
}

TEST(AdamW, ElementResultDoesNotDependOnPosition) {
  // The same (p, g, m, v) at every index: the vector body and the scalar tail
  // must give the same bits, so sharding a parameter cannot change it.
  auto be = make_backend(Device::CPU);
  const i64 n = 19;
  Tensor p = Tensor::empty({n}), g = Tensor::empty({n}), m = Tensor::empty({n}), v = Tensor::empty({n});
  p.fill_(0.3f);
  g.fill_(-0.7f);
  m.fill_(0.01f);
  v.fill_(0.002f);
  AdamWParams hp;
  hp.weight_decay = 0.1f;
  hp.step = 3;
  be->adamw_update(p, g, m, v, hp);
  for (i64 i = 1; i < n; ++i) ASSERT_EQ(p.f32()[i], p.f32()[0]) << i;
}

TEST(AdamWDeathTest, StepZeroIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto be = make_backend(Device::CPU);
  Tensor p = Tensor::zeros({3});
  AdamWParams hp;
  hp.step = 0;
  EXPECT_DEATH(be->adamw_update(p, p.clone(), p.clone(), p.clone(), hp), "adamw_update: step 0");
}

// A parameter's lr_scale (LoRA+ gives the B matrices a larger one) is its
// learning rate's multiplier: a step of the scaled parameter equals a step at
// lr * scale, weight decay included, and the other parameters are untouched
// by it.
TEST(AdamWOptimizer, LrScaleMultipliesThatParametersLearningRate) {
  auto be = make_backend(Device::CPU);
  OptimConfig cfg;
  cfg.weight_decay = 0.1f;
  cfg.grad_clip = 0.0f;
  auto run = [&](float lr, float scale_b) {
    ParameterStore store;
    store.add("a", {3, 2})->decay = true;
    store.add("b", {2, 3})->decay = true;
    store.allocate(*be);
    store[1].lr_scale = scale_b;
    for (std::int64_t i = 0; i < store.values().numel(); ++i)
      store.values().f32()[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
    AdamWOptimizer opt(store, cfg, *be);
    for (int step = 0; step < 3; ++step) {
      for (std::int64_t i = 0; i < store.grads().numel(); ++i)
        store.grads().f32()[i] = 0.05f * static_cast<float>((i * 3 + step) % 5) - 0.1f;
      opt.step(lr);
    }
    return std::pair{Vec(store[0].value.f32(), store[0].value.f32() + 6),
                     Vec(store[1].value.f32(), store[1].value.f32() + 6)};
  };
  const auto [a1, b1] = run(1e-2f, 1.0f);
  const auto [a16, b16] = run(1e-2f, 16.0f);
  const auto [a_hi, b_hi] = run(16e-2f, 1.0f);
  EXPECT_EQ(a16, a1) << "A's updates must not depend on B's scale";
  EXPECT_EQ(b16, b_hi) << "B at lr_scale 16 must step as at 16 x lr";
  EXPECT_NE(b16, b1);
}

}  // namespace
}  // namespace pouch
