// The policy-gradient interface of GPT (per-token weighted cross-entropy
// gradients, per-token log-probs and entropies), the final hidden state with
// an extra gradient into it, and the value head: against finite differences,
// direct computation from the logits, and tp = 2 (fake communicator) vs tp = 1.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "model/gpt.h"
#include "model/value_head.h"
#include "parallel/fake_communicator.h"
#include "runtime/rng.h"
#include "runtime/tensor_shard.h"

namespace pouch {
namespace {

GPTConfig config() {
  GPTConfig c;
  c.layers = 2;
  c.d_model = 12;
  c.heads = 2;
  c.seq_len = 6;
  c.vocab_size = 13;  // odd: pads to 14 at tp = 2
  return c;
}

constexpr std::int64_t kB = 2, kT = 5, kN = kB * kT;

Tensor random_tokens(std::uint64_t seed, bool some_ignored = false) {
  Tensor t = Tensor::empty({kB, kT}, DType::I32);
  RngStream rng(seed, 99);
  for (std::int64_t i = 0; i < kN; ++i) t.i32()[i] = static_cast<std::int32_t>(rng.below(13));
  if (some_ignored) t.i32()[3] = t.i32()[7] = -1;
  return t;
}

// Weights of both signs, of the size of a mean's 1/N.
Tensor random_weights(std::uint64_t seed) {
  Tensor w = Tensor::empty({kB, kT});
  RngStream rng(seed, 5);
  for (std::int64_t i = 0; i < kN; ++i) w.f32()[i] = (rng.uniform() - 0.3f) * 2.0f / static_cast<float>(kN);
  return w;
}

void init_wide(GPT& m, std::uint64_t seed) {
  m.init_weights(seed);
  for (auto& p : m.parameters()) {
    // The same full perturbation on every tensor-parallel layout.
    Tensor full = Tensor::empty(p.full_shape);
    RngStream prng(seed, stream_id(p.name.c_str()) + 1);
    for (std::int64_t i = 0; i < full.numel(); ++i) full.f32()[i] = 0.3f * prng.normal();
    Tensor local = Tensor::empty(p.shape);
    copy_full_to_shard(p.shard, full, local);
    for (std::int64_t i = 0; i < local.numel(); ++i) p.value.f32()[i] += local.f32()[i];
  }
}

std::vector<float> grads_of(const ParameterStore& s) {
  const Tensor& g = s.grads();
  return std::vector<float>(g.f32(), g.f32() + g.numel());
}

TEST(PolicyGradient, EqualWeightsGiveBitwiseTheDlossGradients) {
  auto be = make_backend(Device::CPU);
  GPT m(config(), *be);
  init_wide(m, 1);
  Tensor x = random_tokens(2), y = random_tokens(3, true);
  const float dloss = 1.0f / 8.0f;
  m.parameters().zero_grad();
  const double loss = m.forward(x, y, dloss);
  m.backward();
  const auto want = grads_of(m.parameters());
  Tensor w = Tensor::empty({kB, kT});
  w.fill_(dloss);
  m.parameters().zero_grad();
  EXPECT_EQ(m.forward_weighted(x, y, w), loss);
  m.backward();
  const auto got = grads_of(m.parameters());
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)));
  double norm = 0;
  for (float v : got) norm += double(v) * v;
  EXPECT_GT(norm, 0.0);
}

// Direct -log softmax(logits)[target] and entropies from full logits [N, V].
void direct_ce_and_entropy(const Tensor& logits, const Tensor& targets, std::vector<double>& ce,
                           std::vector<double>& ent) {
  const std::int64_t V = logits.dim(-1);
  ce.assign(kN, 0.0);
  ent.assign(kN, 0.0);
  for (std::int64_t n = 0; n < kN; ++n) {
    const float* l = logits.f32() + n * V;
    double m = l[0];
    for (std::int64_t i = 1; i < V; ++i) m = std::max(m, double(l[i]));
    double s = 0;
    for (std::int64_t i = 0; i < V; ++i) s += std::exp(l[i] - m);
    const double lse = m + std::log(s);
    for (std::int64_t i = 0; i < V; ++i) {
      const double lp = l[i] - lse;
      ent[n] -= std::exp(lp) * lp;
    }
    const std::int32_t t = targets.i32()[n];
    ce[n] = t < 0 ? 0.0 : lse - l[t];
  }
}

TEST(PolicyGradient, TokenLossesAndEntropyMatchTheLogits) {
  auto be = make_backend(Device::CPU);
  GPT m(config(), *be);
  init_wide(m, 4);
  m.set_track_entropy(true);
  Tensor x = random_tokens(5), y = random_tokens(6, true);
  const double mean = m.forward(x, y);  // dloss = 0: the logits stay
  std::vector<double> ce, ent;
  direct_ce_and_entropy(m.logits(), y, ce, ent);
  double sum = 0;
  for (std::int64_t n = 0; n < kN; ++n) {
    EXPECT_NEAR(m.token_losses().f32()[n], ce[n], 1e-5 * (1 + ce[n])) << n;
    EXPECT_NEAR(m.token_entropy().f32()[n], ent[n], 1e-5 * (1 + ent[n])) << n;
    sum += m.token_losses().f32()[n];
  }
  EXPECT_NEAR(mean, sum / 8.0, 1e-9);
  // Entropy is taken before the dlogits overwrite the logits; the weighted
  // path gives the same per-token losses.
  const std::vector<float> ent0(m.token_entropy().f32(), m.token_entropy().f32() + kN);
  const std::vector<float> ce0(m.token_losses().f32(), m.token_losses().f32() + kN);
  m.forward(x, y, 0.5f);
  EXPECT_EQ(0, std::memcmp(ent0.data(), m.token_entropy().f32(), kN * sizeof(float)));
  m.forward_weighted(x, y, random_weights(7));
  EXPECT_EQ(0, std::memcmp(ent0.data(), m.token_entropy().f32(), kN * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(ce0.data(), m.token_losses().f32(), kN * sizeof(float)));
}

// L = sum_t w_t CE_t  [+ sum_n (v_n - r_n)^2 with a value head on the trunk].
struct Objective {
  Tensor x, y, w, r;
  bool lm = true, value = true;
};

double objective(GPT& m, ValueHead& head, Backend& be, const Objective& o) {
  double L = 0;
  if (o.lm) {
    m.forward(o.x, o.y);
    for (std::int64_t n = 0; n < kN; ++n) L += double(o.w.f32()[n]) * m.token_losses().f32()[n];
  } else {
    m.forward_hidden(o.x);
  }
  if (o.value) {
    Tensor v = Tensor::empty({kN});
    head.forward(be, m.final_hidden(), v);
    for (std::int64_t n = 0; n < kN; ++n) L += std::pow(double(v.f32()[n]) - o.r.f32()[n], 2);
  }
  return L;
}

void accumulate_gradients(GPT& m, ValueHead& head, Backend& be, const Objective& o) {
  if (o.lm)
    m.forward_weighted(o.x, o.y, o.w);
  else
    m.forward_hidden(o.x);
  if (o.value) {
    const std::int64_t C = m.config().d_model;
    Tensor v = Tensor::empty({kN}), dv = Tensor::empty({kN}), dh = Tensor::zeros({kN, C});
    head.forward(be, m.final_hidden(), v);
    for (std::int64_t n = 0; n < kN; ++n) dv.f32()[n] = 2.0f * (v.f32()[n] - o.r.f32()[n]);
    head.backward(be, dv, m.final_hidden(), dh);
    // Two halves: the gradient accumulates over calls.
    Tensor half = dh.clone();
    be.scale(half, 0.5f);
    m.add_final_hidden_grad(half);
    m.add_final_hidden_grad(half);
  }
  m.backward();
}

void check_against_finite_differences(const Objective& o) {
  auto be = make_backend(Device::CPU);
  GPT m(config(), *be);
  init_wide(m, 8);
  ParameterStore head_store;
  ValueHead head(head_store, "value_head", m.config().d_model);
  head_store.allocate(*be);
  RngStream hr(9, 9);
  for (std::int64_t i = 0; i < head.weight()->value.numel(); ++i) head.weight()->value.f32()[i] = 0.3f * hr.normal();
  head.bias()->value.f32()[0] = 0.1f;

  m.parameters().zero_grad();
  head_store.zero_grad();
  accumulate_gradients(m, head, *be, o);

  RngStream pick(5, 5);
  int checked = 0;
  auto check_store = [&](ParameterStore& store) {
    for (auto& p : store) {
      for (int k = 0; k < 3; ++k) {
        const std::int64_t i = static_cast<std::int64_t>(pick.below(static_cast<std::uint64_t>(p.value.numel())));
        float* v = p.value.f32() + i;
        const float orig = *v, h = 1e-2f;
        *v = orig + h;
        const double lp = objective(m, head, *be, o);
        *v = orig - h;
        const double lm = objective(m, head, *be, o);
        *v = orig;
        const double fd = (lp - lm) / (2.0 * h);
        EXPECT_NEAR(p.grad.f32()[i], fd, 2e-3 + 2e-2 * std::fabs(fd)) << p.name << "[" << i << "]";
        ++checked;
      }
    }
  };
  check_store(m.parameters());
  check_store(head_store);
  EXPECT_GT(checked, 40);
}

Objective make_objective(bool lm, bool value) {
  Objective o;
  o.x = random_tokens(11);
  o.y = random_tokens(12, true);
  o.w = random_weights(13);
  o.r = Tensor::empty({kN});
  RngStream rng(14, 14);
  for (std::int64_t n = 0; n < kN; ++n) o.r.f32()[n] = rng.uniform();
  o.lm = lm;
  o.value = value;
  return o;
}

TEST(PolicyGradient, WeightedGradientsMatchFiniteDifferences) {
  check_against_finite_differences(make_objective(true, false));
}

TEST(PolicyGradient, ValueHeadOnTheTrunkMatchesFiniteDifferences) {
  check_against_finite_differences(make_objective(true, true));
}

TEST(PolicyGradient, CriticTrainedByTheValueLossAloneMatchesFiniteDifferences) {
  check_against_finite_differences(make_objective(false, true));
}

TEST(PolicyGradient, BackwardNeedsAGradientSource) {
  auto be = make_backend(Device::CPU);
  GPT m(config(), *be);
  m.init_weights(1);
  EXPECT_DEATH(m.add_final_hidden_grad(Tensor::zeros({kN, 12})), "forward");
  m.forward_hidden(random_tokens(1));
  EXPECT_DEATH(m.backward(), "backward");
}

// ---- tensor parallelism ----

void on_ranks(int size, const std::function<void(int, TensorParallelGroup)>& f) {
  auto comms = make_fake_group(size, "tp");
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) threads.emplace_back([&, r] { f(r, TensorParallelGroup(comms[r].get())); });
  for (auto& t : threads) t.join();
}

struct TpResult {
  std::vector<std::vector<float>> grads;  // full tensors, per parameter
  std::vector<float> head_grads, losses, entropy, hidden;
};

TpResult run_tp(int tp) {
  std::vector<TpResult> results(static_cast<std::size_t>(tp));
  const Objective o = make_objective(true, true);
  on_ranks(tp, [&](int rank, TensorParallelGroup group) {
    auto be = make_backend(Device::CPU);
    GPT m(config(), *be, group);
    init_wide(m, 8);
    m.set_track_entropy(true);
    ParameterStore head_store;
    ValueHead head(head_store, "value_head", m.config().d_model);
    head_store.allocate(*be);
    head.weight()->value.fill_(0.25f);
    m.parameters().zero_grad();
    accumulate_gradients(m, head, *be, o);
    TpResult& r = results[static_cast<std::size_t>(rank)];
    r.losses.assign(m.token_losses().f32(), m.token_losses().f32() + kN);
    r.entropy.assign(m.token_entropy().f32(), m.token_entropy().f32() + kN);
    r.hidden.assign(m.final_hidden().f32(), m.final_hidden().f32() + m.final_hidden().numel());
    r.head_grads = grads_of(head_store);
    for (auto& p : m.parameters()) {
      Tensor full = Tensor::zeros(p.full_shape);
      if (!p.shard.sharded()) {
        full.copy_from(p.grad);
      } else {
        const std::int64_t n = p.grad.numel();
        Tensor all = Tensor::empty({group.size() * n});
        group.communicator()->all_gather(all, p.grad.reshape({n}));
        for (int k = 0; k < group.size(); ++k) {
          ShardSpec s = p.shard;
          s.rank = k;
          copy_shard_to_full(s, all.view(k * n, p.shape), full);
        }
      }
      r.grads.emplace_back(full.f32(), full.f32() + full.numel());
    }
  });
  for (int r = 1; r < tp; ++r) {
    // What every rank must hold identically.
    EXPECT_EQ(results[0].losses, results[static_cast<std::size_t>(r)].losses);
    EXPECT_EQ(results[0].entropy, results[static_cast<std::size_t>(r)].entropy);
    EXPECT_EQ(results[0].hidden, results[static_cast<std::size_t>(r)].hidden);
    EXPECT_EQ(results[0].head_grads, results[static_cast<std::size_t>(r)].head_grads);
  }
  return results[0];
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, double rel, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += std::pow(double(a[i]) - b[i], 2);
    norm += std::pow(double(b[i]), 2);
  }
  EXPECT_LE(std::sqrt(diff), rel * std::sqrt(norm) + 1e-7) << what;
  EXPECT_GT(norm, 0.0) << what;
}

TEST(PolicyGradient, TwoRanksMatchOneRank) {
  const TpResult one = run_tp(1), two = run_tp(2);
  expect_close(two.losses, one.losses, 1e-5, "token losses");
  expect_close(two.entropy, one.entropy, 1e-5, "entropy");
  expect_close(two.hidden, one.hidden, 1e-5, "final hidden");
  expect_close(two.head_grads, one.head_grads, 1e-5, "value head grads");
  ASSERT_EQ(two.grads.size(), one.grads.size());
  for (std::size_t i = 0; i < one.grads.size(); ++i)
    expect_close(two.grads[i], one.grads[i], 1e-5, "parameter " + std::to_string(i));
}

}  // namespace
}  // namespace pouch
