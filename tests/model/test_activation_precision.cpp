// Mixed-precision activation storage: FP32 changes nothing; BF16 keeps every
// stored residual-stream value bf16-representable and stays within bf16
// tolerance of FP32; recompute and decoding round the same way.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "model/gpt.h"
#include "runtime/precision.h"
#include "runtime/rng.h"

namespace pouch {
namespace {

GPTConfig config() {
  GPTConfig c;
  c.layers = 3;
  c.d_model = 16;
  c.heads = 4;
  c.seq_len = 8;
  c.vocab_size = 19;
  return c;
}

Tensor tokens(std::uint64_t seed) {
  Tensor t = Tensor::empty({2, 8}, DType::I32);
  RngStream rng(seed, 1);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.i32()[i] = static_cast<std::int32_t>(rng.below(19));
  return t;
}

struct TrainRun {
  double loss;
  std::vector<float> grads, logits;
};

TrainRun train(bool set_precision, Precision p, bool recompute = false) {
  auto be = make_backend(Device::CPU);
  GPT m(config(), *be);
  m.init_weights(21);
  if (set_precision) m.set_activation_precision(p);
  m.set_recompute(recompute);
  Tensor x = tokens(1), y = tokens(2);
  m.parameters().zero_grad();
  TrainRun r;
  m.forward(x, Tensor());
  r.logits.assign(m.logits().f32(), m.logits().f32() + m.logits().numel());
  r.loss = m.forward(x, y, 1.0f / 16.0f);
  if (p == Precision::BF16) {
    for (std::size_t i = 0; i <= static_cast<std::size_t>(m.config().layers); ++i) {
      const Tensor& t = m.residual_stream(i);
      for (std::int64_t k = 0; k < t.numel(); ++k)
        EXPECT_EQ(t.f32()[k], bf16_to_f32(f32_to_bf16(t.f32()[k]))) << "residual " << i << "[" << k << "]";
    }
  }
  m.backward();
  const Tensor& g = m.parameters().grads();
  r.grads.assign(g.f32(), g.f32() + g.numel());
  return r;
}

TEST(ActivationPrecision, Fp32IsBitwiseUnchanged) {
  const TrainRun a = train(false, Precision::FP32), b = train(true, Precision::FP32);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.logits, b.logits);
  EXPECT_EQ(0, std::memcmp(a.grads.data(), b.grads.data(), a.grads.size() * sizeof(float)));
}

double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0, n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d += std::pow(double(a[i]) - b[i], 2);
    n += std::pow(double(b[i]), 2);
  }
  return std::sqrt(d / n);
}

TEST(ActivationPrecision, Bf16IsWithinBf16ToleranceAndRepresentable) {
  const TrainRun fp32 = train(false, Precision::FP32), bf16 = train(true, Precision::BF16);
  // bf16 keeps 8 significant bits: relative rounding error <= 2^-9 per value.
  EXPECT_NEAR(bf16.loss, fp32.loss, 1e-2 * fp32.loss);
  EXPECT_LT(rel_diff(bf16.logits, fp32.logits), 2e-2);
  EXPECT_LT(rel_diff(bf16.grads, fp32.grads), 5e-2);
  EXPECT_GT(rel_diff(bf16.logits, fp32.logits), 0.0);  // the rounding did happen
  // Recompute rounds its re-run block outputs the same way.
  const TrainRun bf16_recompute = train(true, Precision::BF16, true);
  EXPECT_EQ(0, std::memcmp(bf16.grads.data(), bf16_recompute.grads.data(), bf16.grads.size() * sizeof(float)));
}

TEST(ActivationPrecision, Bf16DecodeMatchesBf16Forward) {
  auto be = make_backend(Device::CPU);
  GPT m(config(), *be);
  m.init_weights(21);
  m.set_activation_precision(Precision::BF16);
  Tensor x = tokens(3).view(0, {1, 8});
  m.forward(x, Tensor());
  const std::vector<float> full(m.logits().f32(), m.logits().f32() + m.logits().numel());
  KVCache cache = m.make_cache(1, 8);
  Tensor tok = Tensor::empty({1}, DType::I32), logits = Tensor::empty({1, 19});
  for (std::int64_t t = 0; t < 8; ++t) {
    tok.i32()[0] = x.i32()[t];
    m.decode_step(tok, t, cache, logits);
    // Inputs rounded alike; only a value near a rounding boundary may flip by one bf16 ulp.
    for (std::int64_t v = 0; v < 19; ++v) EXPECT_NEAR(logits.f32()[v], full[t * 19 + v], 2e-2) << t << "," << v;
  }
}

}  // namespace
}  // namespace pouch
