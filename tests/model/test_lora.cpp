// LoRA adapters on the GPT: a fresh adapter changes nothing; adapter and
// input gradients against finite differences; merged weights serve the same
// model; a frozen base; tp = 2 and 4 (fake communicator) vs tp = 1; decoding
// with adapters vs the full forward.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "model/gpt.h"
#include "parallel/fake_communicator.h"
#include "runtime/rng.h"
#include "runtime/tensor_shard.h"

namespace pouch {
namespace {

GPTConfig config() {
  GPTConfig c;
  c.layers = 2;
  c.d_model = 16;
  c.heads = 4;
  c.seq_len = 7;
  c.vocab_size = 29;
  return c;
}

Tensor tokens(std::int64_t B, std::int64_t T, std::uint64_t seed) {
  Tensor t = Tensor::empty({B, T}, DType::I32);
  RngStream rng(seed, 1);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.i32()[i] = static_cast<std::int32_t>(rng.below(29));
  return t;
}

// Every parameter of `store` += scale * N(0, 1), drawn on the full tensor so
// every tensor-parallel layout gets the same model.
void perturb(ParameterStore& store, std::uint64_t seed, float scale) {
  for (auto& p : store) {
    Tensor full = Tensor::empty(p.full_shape), local = Tensor::empty(p.shape);
    RngStream rng(seed, stream_id(p.name.c_str()));
    for (std::int64_t i = 0; i < full.numel(); ++i) full.f32()[i] = scale * rng.normal();
    copy_full_to_shard(p.shard, full, local);
    for (std::int64_t i = 0; i < local.numel(); ++i) p.value.f32()[i] += local.f32()[i];
  }
}

LoraConfig lora_config() {
  LoraConfig c;
  c.rank = 2;
  c.alpha = 4.0f;
  c.seed = 17;
  return c;
}

// A model with trained-looking adapters: nonzero B, so every path matters.
void make_adapted(GPT& m) {
  m.init_weights(3);
  perturb(m.parameters(), 4, 0.2f);
  m.enable_lora(lora_config());
  perturb(m.lora_parameters(), 5, 0.3f);
}

std::vector<float> values_of(const Tensor& t) { return std::vector<float>(t.f32(), t.f32() + t.numel()); }

TEST(Lora, FreshAdapterChangesNothing) {
  auto be = make_backend(Device::CPU);
  GPT m(config(), *be);
  m.init_weights(3);
  Tensor x = tokens(2, 7, 1);
  m.forward(x, Tensor());
  const auto before = values_of(m.logits());
  m.enable_lora(lora_config());
  EXPECT_EQ(m.lora_parameters().size(), 2u * 2u * 4u);
  m.forward(x, Tensor());
  EXPECT_EQ(before, values_of(m.logits()));
  EXPECT_THROW(m.enable_lora(lora_config()), Error);
  m.remove_lora();
  LoraConfig bad = lora_config();
  bad.targets = {"qkv", "mlp"};
  EXPECT_THROW(m.enable_lora(bad), Error);
}

TEST(Lora, GradientsMatchFiniteDifferences) {
  auto be = make_backend(Device::CPU);
  GPTConfig cfg = config();
  cfg.d_model = 8;
  cfg.heads = 2;
  GPT m(cfg, *be);
  make_adapted(m);
  Tensor x = tokens(2, 5, 6), y = tokens(2, 5, 7);
  m.parameters().zero_grad();
  m.lora_parameters().zero_grad();
  m.forward(x, y, 0.1f);
  m.backward();
  RngStream pick(5, 5);
  int checked = 0;
  auto check = [&](ParameterStore& store, int per_param) {
    for (auto& p : store) {
      for (int k = 0; k < per_param; ++k) {
        const std::int64_t i = static_cast<std::int64_t>(pick.below(static_cast<std::uint64_t>(p.value.numel())));
        float* w = p.value.f32() + i;
        // Fourth-order central differences with a small step: the adapted
        // model is curved enough (some gradients ~10) that the two-point
        // formula at h = 1e-2 is off by several percent.
        const float orig = *w, h = 4e-3f;
        const auto at = [&](float d) {
          *w = orig + d;
          return m.forward(x, y);
        };
        const double fd = (8.0 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12.0 * h);
        *w = orig;
        EXPECT_NEAR(p.grad.f32()[i], fd, 2e-3 + 2e-2 * std::fabs(fd)) << p.name << "[" << i << "]";
        ++checked;
      }
    }
  };
  check(m.lora_parameters(), 4);  // A and B of every adapter
  check(m.parameters(), 2);       // base gradients: the input gradients flow through the adapters
  EXPECT_GT(checked, 100);
}

TEST(Lora, MergedWeightsServeTheAdaptedModel) {
  auto be = make_backend(Device::CPU);
  GPT m(config(), *be);
  make_adapted(m);
  Tensor x = tokens(2, 7, 8);
  m.forward(x, Tensor());
  const auto adapted = values_of(m.logits());

  GPT plain(config(), *be);
  plain.load_named(m.merged_named_values(), "merged");
  plain.forward(x, Tensor());
  const auto served = values_of(plain.logits());
  // merged_named_values must not have touched the live weights.
  m.forward(x, Tensor());
  EXPECT_EQ(adapted, values_of(m.logits()));
  m.set_lora_active(false);
  m.forward(x, Tensor());
  const auto base = values_of(m.logits());
  m.set_lora_active(true);

  double diff = 0, change = 0;
  for (std::size_t i = 0; i < adapted.size(); ++i) {
    EXPECT_NEAR(served[i], adapted[i], 1e-5 * (1 + std::fabs(adapted[i]))) << i;
    diff = std::max(diff, double(std::fabs(served[i] - adapted[i])));
    change = std::max(change, double(std::fabs(base[i] - adapted[i])));
  }
  EXPECT_GT(change, 1e3 * diff);  // the adapters matter, and the merge reproduces them

  m.merge_lora();
  EXPECT_FALSE(m.lora_enabled());
  m.forward(x, Tensor());
  const auto merged = values_of(m.logits());
  for (std::size_t i = 0; i < adapted.size(); ++i)
    EXPECT_NEAR(merged[i], adapted[i], 1e-5 * (1 + std::fabs(adapted[i])));
}

std::vector<float> train_grads(GPT& m, const Tensor& x, const Tensor& y) {
  m.parameters().zero_grad();
  m.lora_parameters().zero_grad();
  m.forward(x, y, 0.05f);
  m.backward();
  return values_of(m.lora_parameters().grads());
}

TEST(Lora, FrozenBaseGivesNoBaseGradientsAndTheSameAdapterGradients) {
  auto be = make_backend(Device::CPU);
  GPT m(config(), *be);
  make_adapted(m);
  Tensor x = tokens(3, 7, 9), y = tokens(3, 7, 10);
  const auto full = train_grads(m, x, y);
  m.set_base_frozen(true);
  const auto frozen = train_grads(m, x, y);
  EXPECT_EQ(0, std::memcmp(full.data(), frozen.data(), full.size() * sizeof(float)));
  EXPECT_EQ(0.0, be->sum_squares(m.parameters().grads()));
  double norm = 0;
  for (float g : frozen) norm += double(g) * g;
  EXPECT_GT(norm, 0.0);
  // Recompute (activation checkpointing) re-runs the adapters bitwise.
  m.set_recompute(true);
  EXPECT_EQ(frozen, train_grads(m, x, y));
}

TEST(Lora, DecodeWithAdaptersMatchesFullForward) {
  auto be = make_backend(Device::CPU);
  GPT m(config(), *be);
  make_adapted(m);
  const std::int64_t T = 7, V = 29;
  Tensor x = tokens(1, T, 11);
  m.forward(x, Tensor());
  const auto full = values_of(m.logits());
  KVCache cache = m.make_cache(1, T);
  Tensor tok = Tensor::empty({1}, DType::I32), logits = Tensor::empty({1, V});
  for (std::int64_t t = 0; t < T; ++t) {
    tok.i32()[0] = x.i32()[t];
    m.decode_step(tok, t, cache, logits);
    for (std::int64_t v = 0; v < V; ++v) EXPECT_NEAR(logits.f32()[v], full[t * V + v], 1e-4) << t << "," << v;
  }
}

// ---- tensor parallelism ----

void on_ranks(int size, const std::function<void(int, TensorParallelGroup)>& f) {
  auto comms = make_fake_group(size, "tp");
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) threads.emplace_back([&, r] { f(r, TensorParallelGroup(comms[r].get())); });
  for (auto& t : threads) t.join();
}

struct TpResult {
  std::vector<std::vector<float>> lora_grads;  // full tensors, per adapter parameter
  std::vector<float> base_wte_grad, decode_logits, merged_qkv;
  double loss = 0;
};

std::vector<float> gather_full(const Parameter& p, const Tensor& local, const TensorParallelGroup& group) {
  Tensor full = Tensor::zeros(p.full_shape);
  if (!p.shard.sharded()) {
    full.copy_from(local);
  } else {
    const std::int64_t n = local.numel();
    Tensor all = Tensor::empty({group.size() * n});
    group.communicator()->all_gather(all, local.reshape({n}));
    for (int k = 0; k < group.size(); ++k) {
      ShardSpec s = p.shard;
      s.rank = k;
      copy_shard_to_full(s, all.view(k * n, p.shape), full);
    }
  }
  return values_of(full);
}

TpResult run_tp(int tp) {
  std::vector<TpResult> results(static_cast<std::size_t>(tp));
  on_ranks(tp, [&](int rank, TensorParallelGroup group) {
    auto be = make_backend(Device::CPU);
    GPT m(config(), *be, group);
    make_adapted(m);
    Tensor x = tokens(3, 7, 12), y = tokens(3, 7, 13);
    TpResult& r = results[static_cast<std::size_t>(rank)];
    m.parameters().zero_grad();
    m.lora_parameters().zero_grad();
    r.loss = m.forward(x, y, 1.0f / 21.0f);
    m.backward();
    for (auto& p : m.lora_parameters()) r.lora_grads.push_back(gather_full(p, p.grad, group));
    const Parameter* wte = m.parameters().find("wte");
    r.base_wte_grad = gather_full(*wte, wte->grad, group);
    KVCache cache = m.make_cache(1, 7);
    Tensor tok = Tensor::empty({1}, DType::I32), logits = Tensor::empty({1, 29});
    for (int pos = 0; pos < 4; ++pos) {
      tok.i32()[0] = x.i32()[pos];
      m.decode_step(tok, pos, cache, logits);
    }
    r.decode_logits = values_of(logits);
    for (const auto& [name, t] : m.merged_named_values())
      if (name == "blocks.1.attn.qkv.weight") r.merged_qkv = values_of(t);
  });
  return results[0];
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += std::pow(double(a[i]) - b[i], 2);
    norm += std::pow(double(b[i]), 2);
  }
  EXPECT_LE(std::sqrt(diff), 1e-5 * std::sqrt(norm) + 1e-7) << what;
  EXPECT_GT(norm, 0.0) << what;
}

TEST(Lora, TwoAndFourRanksMatchOneRank) {
  const TpResult one = run_tp(1);
  for (int tp : {2, 4}) {
    SCOPED_TRACE("tp=" + std::to_string(tp));
    const TpResult r = run_tp(tp);
    EXPECT_NEAR(r.loss, one.loss, 1e-5 * one.loss);
    ASSERT_EQ(r.lora_grads.size(), one.lora_grads.size());
    for (std::size_t i = 0; i < r.lora_grads.size(); ++i)
      expect_close(r.lora_grads[i], one.lora_grads[i], "adapter parameter " + std::to_string(i));
    expect_close(r.base_wte_grad, one.base_wte_grad, "wte grad");
    expect_close(r.decode_logits, one.decode_logits, "decode logits");
    expect_close(r.merged_qkv, one.merged_qkv, "merged qkv weight");
  }
}

}  // namespace
}  // namespace pouch
