// Model-level tests: finite differences through the whole GPT, activation
// checkpointing, determinism, KV-cache decoding vs the full forward, loading.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "model/generator.h"
#include "model/gpt.h"
#include "runtime/rng.h"

namespace pouch {
namespace {

GPTConfig tiny_config() {
  GPTConfig c;
  c.layers = 2;
  c.d_model = 12;
  c.heads = 3;
  c.seq_len = 7;
  c.vocab_size = 13;
  return c;
}

Tensor random_tokens(std::int64_t B, std::int64_t T, std::int64_t V, std::uint64_t seed) {
  Tensor t = Tensor::empty({B, T}, DType::I32);
  RngStream rng(seed, 99);
  for (std::int64_t i = 0; i < B * T; ++i)
    t.i32()[i] = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(V)));
  return t;
}

// Bigger init than 0.02 so the loss is sensitive to every parameter.
void init_wide(GPT& m, std::uint64_t seed) {
  m.init_weights(seed);
  RngStream rng(seed, 7);
  for (auto& p : m.parameters())
    for (std::int64_t i = 0; i < p.value.numel(); ++i) p.value.f32()[i] += 0.3f * rng.normal();
}

TEST(GPT, GradientsMatchFiniteDifferences) {
  auto be = make_backend(Device::CPU);
  GPTConfig cfg = tiny_config();
  GPT m(cfg, *be);
  init_wide(m, 1);
  const std::int64_t B = 2, T = 5;
  Tensor x = random_tokens(B, T, cfg.vocab_size, 2), y = random_tokens(B, T, cfg.vocab_size, 3);
  m.parameters().zero_grad();
  m.forward(x, y, 1.0f / static_cast<float>(B * T));
  m.backward();

  RngStream pick(5, 5);
  int checked = 0;
  for (auto& p : m.parameters()) {
    for (int k = 0; k < 3; ++k) {
      const std::int64_t i = static_cast<std::int64_t>(pick.below(static_cast<std::uint64_t>(p.value.numel())));
      float* w = p.value.f32() + i;
      const float orig = *w, h = 1e-2f;
      *w = orig + h;
      const double lp = m.forward(x, y);
      *w = orig - h;
      const double lm = m.forward(x, y);
      *w = orig;
      const double fd = (lp - lm) / (2.0 * h);
      const double an = p.grad.f32()[i];
      EXPECT_NEAR(an, fd, 2e-3 + 2e-2 * std::fabs(fd)) << p.name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GT(checked, 40);
}

std::vector<float> train_grads(bool recompute) {
  auto be = make_backend(Device::CPU);
  GPTConfig cfg = tiny_config();
  GPT m(cfg, *be);
  m.init_weights(11);
  m.set_recompute(recompute);
  Tensor x = random_tokens(3, 7, cfg.vocab_size, 4), y = random_tokens(3, 7, cfg.vocab_size, 5);
  m.parameters().zero_grad();
  for (int micro = 0; micro < 2; ++micro) {
    m.forward(x, y, 0.5f / 21.0f);
    m.backward();
  }
  const Tensor& g = m.parameters().grads();
  return std::vector<float>(g.f32(), g.f32() + g.numel());
}

TEST(GPT, GradNormIsThePerParameterSumOfSquaresBitwise) {
  // grad_norm() is one segmented reduction; it must give the bits of the
  // per-parameter loop it replaced (the oracle and resume tests rely on it).
  auto be = make_backend(Device::CPU);
  GPTConfig cfg = tiny_config();
  GPT m(cfg, *be);
  init_wide(m, 4);
  const std::int64_t B = 2, T = 5;
  m.parameters().zero_grad();
  m.forward(random_tokens(B, T, cfg.vocab_size, 5), random_tokens(B, T, cfg.vocab_size, 6), 1.0f);
  m.backward();
  double sharded = 0.0, replicated = 0.0;
  for (const auto& p : m.parameters()) (p.shard.sharded() ? sharded : replicated) += be->sum_squares(p.grad);
  const double norm = m.grad_norm();
  EXPECT_GT(norm, 0.0);
  EXPECT_EQ(norm, std::sqrt(sharded + replicated));
}

TEST(GPT, RecomputeGivesBitwiseIdenticalGradients) {
  auto a = train_grads(false), b = train_grads(true);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
  double norm = 0;
  for (float v : a) norm += v * v;
  EXPECT_GT(norm, 0.0);
}

TEST(GPT, SameSeedIsBitwiseReproducible) {
  auto a = train_grads(false), b = train_grads(false);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
}

TEST(GPT, DecodeWithCacheMatchesFullForward) {
  auto be = make_backend(Device::CPU);
  GPTConfig cfg = tiny_config();
  GPT m(cfg, *be);
  init_wide(m, 3);
  const std::int64_t T = cfg.seq_len;
  Tensor x = random_tokens(1, T, cfg.vocab_size, 8);
  m.forward(x, Tensor());
  Tensor full = m.logits().clone();
  KVCache cache = m.make_cache(1, T);
  Tensor tok = Tensor::empty({1}, DType::I32), logits = Tensor::empty({1, cfg.vocab_size});
  for (std::int64_t t = 0; t < T; ++t) {
    tok.i32()[0] = x.i32()[t];
    m.decode_step(tok, t, cache, logits);
    for (std::int64_t v = 0; v < cfg.vocab_size; ++v)
      EXPECT_NEAR(logits.f32()[v], full.f32()[t * cfg.vocab_size + v], 1e-4) << "t=" << t << " v=" << v;
  }
}

TEST(GPT, GreedyGenerationFollowsArgmaxAndStops) {
  auto be = make_backend(Device::CPU);
  GPTConfig cfg = tiny_config();
  GPT m(cfg, *be);
  init_wide(m, 4);
  Generator gen(m);
  RngStream rng(1, 1);
  GenerateOptions opt;
  opt.max_tokens = 4;
  std::vector<std::int32_t> prompt = {1, 2};
  auto out = gen.generate(prompt, opt, rng);
  ASSERT_EQ(out.size(), 4u);
  // Re-derive each greedy token from a full forward over the growing sequence.
  std::vector<std::int32_t> seq = prompt;
  for (auto tok : out) {
    Tensor x = Tensor::empty({1, static_cast<std::int64_t>(seq.size())}, DType::I32);
    std::memcpy(x.i32(), seq.data(), seq.size() * sizeof(std::int32_t));
    m.forward(x, Tensor());
    const float* last = m.logits().f32() + (seq.size() - 1) * cfg.vocab_size;
    EXPECT_EQ(tok, std::max_element(last, last + cfg.vocab_size) - last);
    seq.push_back(tok);
  }
  opt.stop_token = out[0];
  EXPECT_TRUE(gen.generate(prompt, opt, rng).empty());
  std::vector<std::int32_t> too_long(static_cast<std::size_t>(cfg.seq_len), 1);
  EXPECT_THROW(gen.generate(too_long, opt, rng), Error);
}

TEST(GPT, LoadNamedRejectsMissingExtraAndMisshapen) {
  auto be = make_backend(Device::CPU);
  GPT m(tiny_config(), *be);
  m.init_weights(1);
  auto named = m.named_values();
  EXPECT_NO_THROW(m.load_named(named, "w.h5"));

  auto missing = named;
  missing.pop_back();
  try {
    m.load_named(missing, "w.h5");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lnf.bias"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("w.h5"), std::string::npos) << e.what();
  }
  auto extra = named;
  extra.emplace_back("blocks.9.ln1.weight", Tensor::zeros({12}));
  EXPECT_THROW(m.load_named(extra, "w.h5"), Error);
  auto bad = named;
  bad[0].second = Tensor::zeros({13, 11});
  try {
    m.load_named(bad, "w.h5");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("wte"), std::string::npos) << e.what();
  }
}

TEST(Sampling, TopKOneIsGreedyAndTopPRestricts) {
  std::vector<float> logits = {0.1f, 2.0f, 1.9f, -1.0f};
  RngStream rng(3, 3);
  SamplingOptions k1;
  k1.temperature = 1.0f;
  k1.top_k = 1;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(sample_token(logits.data(), 4, k1, rng), 1);
  SamplingOptions p;
  p.temperature = 1.0f;
  p.top_p = 0.5f;  // token 1 alone has p ~ 0.47 < 0.5, so {1, 2}
  int seen[4] = {0, 0, 0, 0};
  for (int i = 0; i < 400; ++i) ++seen[sample_token(logits.data(), 4, p, rng)];
  EXPECT_EQ(seen[0] + seen[3], 0);
  EXPECT_GT(seen[1], 100);
  EXPECT_GT(seen[2], 100);
  SamplingOptions full;
  full.temperature = 1.0f;
  int counts[4] = {0, 0, 0, 0};
  for (int i = 0; i < 4000; ++i) ++counts[sample_token(logits.data(), 4, full, rng)];
  // softmax([0.1, 2, 1.9, -1]) = [0.069, 0.461, 0.417, 0.023]
  EXPECT_NEAR(counts[1] / 4000.0, 0.461, 0.03);
  EXPECT_NEAR(counts[3] / 4000.0, 0.023, 0.01);
}

}  // namespace
}  // namespace pouch
