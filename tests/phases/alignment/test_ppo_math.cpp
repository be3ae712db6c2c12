// PPO and GRPO math: hand-computed cases (GAE, clipping, the KL controller,
// GRPO ties) and every loss and gradient against PyTorch autograd
// (ppo_reference.py, float64) on the same random inputs.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "phases/alignment/grpo_math.h"
#include "phases/alignment/ppo_math.h"
#include "runtime/error.h"
#include "runtime/rng.h"
#include "tests/support/python_oracle.h"
#include "tests/support/temp_dir.h"

namespace pouch {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// ---- hand-computed cases ----------------------------------------------------

TEST(Gae, ThreeTokensByHand) {
  const std::vector<float> r = {0.1f, -0.2f, 1.0f}, v = {0.5f, 0.4f, 0.8f};
  std::vector<float> adv(3), ret(3);
  // gamma 0.9, lambda 0.8 (gamma lambda = 0.72):
  //   t=2: delta = 1.0 + 0.9*0   - 0.8 =  0.2   A = 0.2                    R = 1.0
  //   t=1: delta = -0.2 + 0.9*0.8 - 0.4 = 0.12  A = 0.12 + 0.72*0.2 = 0.264 R = 0.664
  //   t=0: delta = 0.1 + 0.9*0.4 - 0.5 = -0.04  A = -0.04 + 0.72*0.264 = 0.15008  R = 0.65008
  compute_gae(r, v, GaeParams{0.9, 0.8}, adv, ret);
  EXPECT_NEAR(adv[0], 0.15008, 1e-6);
  EXPECT_NEAR(adv[1], 0.264, 1e-6);
  EXPECT_NEAR(adv[2], 0.2, 1e-6);
  EXPECT_NEAR(ret[0], 0.65008, 1e-6);
  EXPECT_NEAR(ret[1], 0.664, 1e-6);
  EXPECT_NEAR(ret[2], 1.0, 1e-6);
  // Defaults gamma 1, lambda 0.95:
  //   t=2: delta = 0.2                 A = 0.2                R = 1.0
  //   t=1: delta = -0.2 + 0.8 - 0.4 = 0.2  A = 0.2 + 0.95*0.2 = 0.39   R = 0.79
  //   t=0: delta = 0.1 + 0.4 - 0.5 = 0     A = 0.95*0.39 = 0.3705      R = 0.8705
  compute_gae(r, v, GaeParams{}, adv, ret);
  EXPECT_NEAR(adv[0], 0.3705, 1e-6);
  EXPECT_NEAR(adv[1], 0.39, 1e-6);
  EXPECT_NEAR(adv[2], 0.2, 1e-6);
  EXPECT_NEAR(ret[0], 0.8705, 1e-6);
  EXPECT_NEAR(ret[1], 0.79, 1e-6);
  EXPECT_NEAR(ret[2], 1.0, 1e-6);
}

TEST(Gae, LambdaOneGivesRewardToGo) {
  // gamma = lambda = 1: A_t telescopes to sum_{k>=t} r_k - V_t, so R_t is the reward-to-go.
  const std::vector<float> r = {0.3f, -0.1f, 0.0f, 2.0f}, v = {1.0f, -0.5f, 0.25f, 0.7f};
  std::vector<float> adv(4), ret(4);
  compute_gae(r, v, GaeParams{1.0, 1.0}, adv, ret);
  const std::vector<double> to_go = {2.2, 1.9, 2.0, 2.0};
  for (int t = 0; t < 4; ++t) {
    EXPECT_NEAR(ret[t], to_go[t], 1e-6) << t;
    EXPECT_NEAR(adv[t], to_go[t] - v[t], 1e-6) << t;
  }
}

TEST(KlShapedRewards, PenaltyEveryTokenAndRewardOnTheLast) {
  const std::vector<float> lp = {-1.0f, -2.0f, -0.5f}, ref = {-1.5f, -1.0f, -0.5f};
  std::vector<float> r(3);
  kl_shaped_rewards(lp, ref, 0.1, 0.8, r);
  EXPECT_NEAR(r[0], -0.1 * 0.5, 1e-7);
  EXPECT_NEAR(r[1], -0.1 * -1.0, 1e-7);
  EXPECT_NEAR(r[2], 0.8, 1e-7);  // k1 = 0 on the last token
}

TEST(KlShapedRewards, K3EstimatorAndParsing) {
  const std::vector<float> lp = {-1.0f, -2.0f}, ref = {-1.5f, -1.0f};
  std::vector<float> r(2);
  kl_shaped_rewards(lp, ref, 0.1, 0.0, r, KlEstimator::K3);
  // x = ref - lp = -0.5 and 1: k3 = e^x - x - 1.
  EXPECT_NEAR(r[0], -0.1 * (std::exp(-0.5) + 0.5 - 1), 1e-7);
  EXPECT_NEAR(r[1], -0.1 * (std::exp(1.0) - 2), 1e-7);
  EXPECT_EQ(parse_kl_estimator("k1", "phase.2.kl_estimator"), KlEstimator::K1);
  EXPECT_EQ(parse_kl_estimator("k3", "phase.2.kl_estimator"), KlEstimator::K3);
  EXPECT_THROW(parse_kl_estimator("k2", "phase.2.kl_estimator"), Error);
}

TEST(Whitening, TwoRanksWithGlobalMomentsEqualOneBatch) {
  std::vector<float> a = {1.0f, 2.0f, 3.0f}, b = {10.0f, -4.0f};
  std::vector<float> all = a;
  all.insert(all.end(), b.begin(), b.end());
  Moments ma, mb, whole;
  ma.add(a);
  mb.add(b);
  whole.add(all);
  // What an all-reduce SUM of the packed moments does.
  auto pa = ma.packed(), pb = mb.packed();
  for (int k = 0; k < 3; ++k) pa[k] += pb[k];
  const Moments global = Moments::unpacked(pa);
  EXPECT_DOUBLE_EQ(global.count, 5.0);
  EXPECT_DOUBLE_EQ(global.mean(), 12.0 / 5.0);
  // Population variance of {1,2,3,10,-4}: (1+4+9+100+16)/5 - 2.4^2 = 26 - 5.76.
  EXPECT_NEAR(global.variance(), 20.24, 1e-12);
  whiten(a, global);
  whiten(b, global);
  whiten(all, whole);
  for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(a[i], all[i]);
  for (int i = 0; i < 2; ++i) EXPECT_FLOAT_EQ(b[i], all[3 + i]);
  Moments after;
  after.add(all);
  EXPECT_NEAR(after.mean(), 0.0, 1e-6);
  EXPECT_NEAR(after.variance(), 1.0, 1e-6);
}

TEST(Whitening, ConstantBatchBecomesZeros) {
  std::vector<float> x(4, 3.25f);
  Moments m;
  m.add(x);
  EXPECT_GE(m.variance(), 0.0);
  whiten(x, m);
  for (float v : x) EXPECT_NEAR(v, 0.0f, 1e-6f);
}

TEST(PolicyLoss, ClipCountingAndGradientByHand) {
  // ratio 1.5, 1.5, 0.5, 0.5, 1.1 with A = +1, -1, +1, -1, +1 and eps 0.2:
  //   1.5*+1: min(1.5, 1.2)   = 1.2  clipped, grad 0
  //   1.5*-1: min(-1.5, -1.2) = -1.5 not clipped, dl/dlp = -A ratio = 1.5
  //   0.5*+1: min(0.5, 0.8)   = 0.5  not clipped, -0.5
  //   0.5*-1: min(-0.5, -0.8) = -0.8 clipped, grad 0
  //   1.1*+1: inside the range, not clipped, -1.1
  // loss = mean(-1.2, 1.5, -0.5, 0.8, -1.1) = -0.5 / 5
  const std::vector<float> old_lp = {-1.0f, -1.0f, -1.0f, -1.0f, -1.0f};
  std::vector<float> lp(5);
  const double ratios[] = {1.5, 1.5, 0.5, 0.5, 1.1};
  for (int t = 0; t < 5; ++t) lp[t] = static_cast<float>(-1.0 + std::log(ratios[t]));
  const std::vector<float> adv = {1, -1, 1, -1, 1};
  std::vector<float> grad(5);
  const auto res = clipped_policy_loss(lp, old_lp, adv, 0.2, 5.0, grad);
  EXPECT_EQ(res.tokens, 5);
  EXPECT_EQ(res.clipped, 2);
  EXPECT_DOUBLE_EQ(res.clip_fraction(), 0.4);
  EXPECT_NEAR(res.loss, -0.1, 1e-6);
  const double want[] = {0.0, 1.5, -0.5, 0.0, -1.1};
  for (int t = 0; t < 5; ++t) EXPECT_NEAR(grad[t], want[t] / 5.0, 1e-6) << t;
  // approx KL = mean((r - 1) - log r)
  double kl = 0;
  for (double r : ratios) kl += (r - 1) - std::log(r);
  EXPECT_NEAR(res.approx_kl(), kl / 5.0, 1e-6);
}

TEST(PolicyLoss, SharesOverMicroBatchesSumToTheWholeBatch) {
  const std::vector<float> lp = {-0.3f, -1.2f, -2.0f, -0.7f}, old_lp = {-0.5f, -1.0f, -2.1f, -0.2f},
                           adv = {0.4f, -1.3f, 2.0f, 0.9f};
  std::vector<float> g_all(4), g_parts(4);
  const auto whole = clipped_policy_loss(lp, old_lp, adv, 0.2, 4.0, g_all);
  const auto p1 = clipped_policy_loss(std::span(lp).first(1), std::span(old_lp).first(1), std::span(adv).first(1), 0.2,
                                      4.0, std::span(g_parts).first(1));
  const auto p2 = clipped_policy_loss(std::span(lp).subspan(1), std::span(old_lp).subspan(1), std::span(adv).subspan(1),
                                      0.2, 4.0, std::span(g_parts).subspan(1));
  EXPECT_NEAR(p1.loss + p2.loss, whole.loss, 1e-12);
  EXPECT_EQ(p1.clipped + p2.clipped, whole.clipped);
  for (int t = 0; t < 4; ++t) EXPECT_FLOAT_EQ(g_parts[t], g_all[t]);
}

TEST(ValueLoss, ClippedBranchByHand) {
  // eps_v 0.2. Token 0: V moved 0.5 away from V_old towards R: V_clip = 1.2,
  // errors (1.5-2)^2 = 0.25 < (1.2-2)^2 = 0.64, the clipped branch wins and
  // V is outside the range: gradient 0. Token 1: inside the range, both
  // equal: gradient V - R.
  const std::vector<float> v = {1.5f, 0.1f}, v_old = {1.0f, 0.0f}, ret = {2.0f, 1.0f};
  std::vector<float> grad(2);
  const auto res = clipped_value_loss(v, v_old, ret, 0.2, 2.0, grad);
  EXPECT_EQ(res.clipped, 1);
  EXPECT_NEAR(res.loss, (0.5 * 0.64 + 0.5 * 0.81) / 2.0, 1e-6);
  EXPECT_FLOAT_EQ(grad[0], 0.0f);
  EXPECT_NEAR(grad[1], (0.1 - 1.0) / 2.0, 1e-7);
}

TEST(KlEstimators, ValuesAndDerivative) {
  // x = lp_ref - lp = 0.5: k3 = e^0.5 - 0.5 - 1, dk3/dlp = 1 - e^0.5.
  EXPECT_DOUBLE_EQ(kl_k1(-1.0, -0.5), -0.5);
  EXPECT_NEAR(kl_k3(-1.0, -0.5), std::exp(0.5) - 1.5, 1e-15);
  EXPECT_NEAR(kl_k3_grad(-1.0, -0.5), 1 - std::exp(0.5), 1e-15);
  EXPECT_EQ(kl_k3(-2.0, -2.0), 0.0);
  // Central difference of k3 in lp.
  const double h = 1e-6, lp = -0.8, ref = -1.7;
  EXPECT_NEAR(kl_k3_grad(lp, ref), (kl_k3(lp + h, ref) - kl_k3(lp - h, ref)) / (2 * h), 1e-8);
}

TEST(KlController, AdaptiveUpdateNumbers) {
  // beta 0.1, target 6, horizon 10000, 512 samples per step: n/horizon = 0.0512.
  auto c = KlController::adaptive(0.1, 6.0, 10000.0);
  c.update(9.0, 512);  // 9/6 - 1 = 0.5 clipped to 0.2 -> x (1 + 0.2*0.0512)
  EXPECT_NEAR(c.beta(), 0.1 * 1.01024, 1e-15);
  c.update(6.6, 512);  // 0.1 -> x (1 + 0.1*0.0512)
  EXPECT_NEAR(c.beta(), 0.1 * 1.01024 * 1.00512, 1e-15);
  c.update(1.0, 512);  // 1/6 - 1 clipped to -0.2 -> x (1 - 0.01024)
  EXPECT_NEAR(c.beta(), 0.1 * 1.01024 * 1.00512 * 0.98976, 1e-15);
  c.update(6.0, 512);  // on target: unchanged
  EXPECT_NEAR(c.beta(), 0.1 * 1.01024 * 1.00512 * 0.98976, 1e-15);
  c.restore(0.25);
  EXPECT_EQ(c.beta(), 0.25);

  auto fixed = KlController::fixed(0.05);
  fixed.update(100.0, 512);
  EXPECT_EQ(fixed.beta(), 0.05);
  EXPECT_FALSE(fixed.is_adaptive());
  EXPECT_THROW(KlController::adaptive(0.1, 0.0, 10000.0), Error);
  EXPECT_THROW(KlController::adaptive(0.1, 6.0, -1.0), Error);
  EXPECT_THROW(KlController::fixed(-0.1), Error);
  EXPECT_THROW(c.update(NAN, 512), Error);
}

TEST(GrpoAdvantages, TiesGiveZeroAndSpreadGivesUnitScale) {
  std::vector<double> adv(3, 7.0);
  grpo_advantages(std::vector<double>{0.7, 0.7, 0.7}, adv);
  for (double a : adv) EXPECT_EQ(a, 0.0);
  std::vector<double> one(1, 7.0);
  grpo_advantages(std::vector<double>{0.3}, one);
  EXPECT_EQ(one[0], 0.0);
  // {1, 0, 0, 1}: mean 0.5, sample std sqrt(4 * 0.25 / 3) = sqrt(1/3).
  std::vector<double> a4(4);
  grpo_advantages(std::vector<double>{1, 0, 0, 1}, a4);
  const double s = std::sqrt(1.0 / 3.0) + 1e-4;
  EXPECT_DOUBLE_EQ(a4[0], 0.5 / s);
  EXPECT_DOUBLE_EQ(a4[1], -0.5 / s);
  EXPECT_DOUBLE_EQ(a4[2], -0.5 / s);
  EXPECT_DOUBLE_EQ(a4[3], 0.5 / s);
}

TEST(GrpoLoss, PerSampleTokenMeanByHand) {
  // Two samples of lengths 1 and 2, ratio 1 everywhere (lp = lp_old), beta 0:
  // l = -A per token; L = (1/2) (-A0 + (1/2)(-A1 - A1)) = -(A0 + A1) / 2,
  // dL/dlp = -A_i / (2 |o_i|).
  const std::vector<float> lp = {-1.0f, -2.0f, -0.5f};
  const std::vector<std::int64_t> offsets = {0, 1, 3};
  const std::vector<double> adv = {0.8, -0.4};
  std::vector<float> grad(3);
  const auto res = grpo_loss(lp, lp, lp, offsets, adv, 0.2, 0.0, 2.0, grad);
  EXPECT_NEAR(res.loss, -(0.8 - 0.4) / 2, 1e-12);
  EXPECT_EQ(res.samples, 2);
  EXPECT_EQ(res.tokens, 3);
  EXPECT_EQ(res.clipped, 0);
  EXPECT_FLOAT_EQ(grad[0], -0.8f / 2);
  EXPECT_FLOAT_EQ(grad[1], 0.4f / 4);
  EXPECT_FLOAT_EQ(grad[2], 0.4f / 4);
}

TEST(GrpoLoss, K1PenaltyHasUnitDerivative) {
  // One sample of 2 tokens, ratio 1, A = 0, beta 0.5, k1: L = 0.5 * mean(lp - ref),
  // dL/dlp = 0.5 / 2 per token.
  const std::vector<float> lp = {-1.0f, -2.0f}, ref = {-1.5f, -1.0f};
  const std::vector<std::int64_t> offsets = {0, 2};
  const std::vector<double> adv = {0.0};
  std::vector<float> grad(2);
  const auto res = grpo_loss(lp, lp, ref, offsets, adv, 0.2, 0.5, 1.0, grad, KlEstimator::K1);
  EXPECT_NEAR(res.loss, 0.5 * (0.5 - 1.0) / 2, 1e-12);
  EXPECT_NEAR(res.mean_kl(), (0.5 - 1.0) / 2, 1e-12);
  EXPECT_FLOAT_EQ(grad[0], 0.25f);
  EXPECT_FLOAT_EQ(grad[1], 0.25f);
}

// ---- against PyTorch ----------------------------------------------------------

std::vector<float> random_floats(RngStream& rng, int n, float mean, float stddev) {
  std::vector<float> v(n);
  for (auto& x : v) x = mean + stddev * rng.normal();
  return v;
}

// Floats as the doubles they are, so Python reads exactly the same inputs.
json as_json(const std::vector<float>& v) { return json(std::vector<double>(v.begin(), v.end())); }

// |got - want| <= 1e-6 |want| + 1e-12 (the abs term only for exact zeros).
void expect_close(std::span<const float> got, const json& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double w = want[i].get<double>();
    EXPECT_NEAR(got[i], w, 1e-6 * std::fabs(w) + 1e-12) << what << "[" << i << "]";
  }
}
void expect_close(double got, double want, const std::string& what) {
  EXPECT_NEAR(got, want, 1e-6 * std::fabs(want) + 1e-12) << what;
}

class AgainstTorch : public ::testing::Test {
 protected:
  void SetUp() override { POUCH_REQUIRE_PYTHON_MODULES(POUCH_TORCH_PYTHON, "torch", "python3-torch"); }
  json run_reference(const json& in) {
    {
      std::ofstream f(dir_ / "in.json");
      f << in.dump();
    }
    const std::string cmd = fmt::format("{} {} {} {}", POUCH_TORCH_PYTHON, POUCH_PPO_REFERENCE,
                                        (dir_ / "in.json").string(), (dir_ / "out.json").string());
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ifstream f(dir_ / "out.json");
    return json::parse(f);
  }
  pouch::testing::TempDir tmp_;
  const fs::path dir_ = tmp_.path();
};

TEST_F(AgainstTorch, EveryLossAndGradient) {
  RngStream rng(2024, 7);
  const int n = 257;
  json in;

  // Policy: log-ratios ~ N(0, 0.3) so about half the tokens leave [0.8, 1.2];
  // token_count 2n as if this were half of the step's batch.
  const auto lp = random_floats(rng, n, -1.5f, 0.8f);
  std::vector<float> lp_old(n), lp_ref(n);
  for (int t = 0; t < n; ++t) {
    lp_old[t] = lp[t] + 0.3f * rng.normal();
    lp_ref[t] = lp[t] + 0.5f * rng.normal();
  }
  const auto adv = random_floats(rng, n, 0.0f, 1.0f);
  in["policy"] = {
      {"lp", as_json(lp)}, {"lp_old", as_json(lp_old)}, {"adv", as_json(adv)}, {"eps", 0.2}, {"token_count", 2.0 * n}};

  // Value: steps V - V_old ~ N(0, 0.3) against eps_v 0.2.
  const auto v = random_floats(rng, n, 0.5f, 1.0f);
  std::vector<float> v_old(n);
  for (int t = 0; t < n; ++t) v_old[t] = v[t] + 0.3f * rng.normal();
  const auto ret = random_floats(rng, n, 0.5f, 1.0f);
  in["value"] = {{"v", as_json(v)},
                 {"v_old", as_json(v_old)},
                 {"ret", as_json(ret)},
                 {"eps", 0.2},
                 {"token_count", static_cast<double>(n)}};

  in["kl"] = {{"lp", as_json(lp)}, {"lp_ref", as_json(lp_ref)}};
  in["shaped"] = {{"lp", as_json(lp)}, {"lp_ref", as_json(lp_ref)}, {"beta", 0.05}, {"sequence_reward", 0.75}};

  const int resp = 41;
  const auto rewards = random_floats(rng, resp, 0.0f, 0.3f), values = random_floats(rng, resp, 0.2f, 0.5f);
  in["gae"] = {{"rewards", as_json(rewards)}, {"values", as_json(values)}, {"gamma", 0.99}, {"lambda", 0.95}};
  const auto to_whiten = random_floats(rng, n, 0.7f, 2.0f);
  in["whiten"] = {{"x", as_json(to_whiten)}, {"eps", 1e-8}};

  // GRPO: 2 groups of 4 samples, lengths 1..40, one group with a tie.
  const std::vector<std::vector<double>> groups = {{0.9, 0.1, 0.55, 0.1}, {0.3, 1.0, 0.0, 0.62}};
  std::vector<std::int64_t> offsets = {0};
  for (int i = 0; i < 8; ++i) offsets.push_back(offsets.back() + 1 + static_cast<std::int64_t>(rng.below(40)));
  const int gn = static_cast<int>(offsets.back());
  const auto g_lp = random_floats(rng, gn, -1.2f, 0.7f);
  std::vector<float> g_old(gn), g_ref(gn);
  for (int t = 0; t < gn; ++t) {
    g_old[t] = g_lp[t] + 0.25f * rng.normal();
    g_ref[t] = g_lp[t] + 0.4f * rng.normal();
  }
  in["grpo"] = {{"lp", as_json(g_lp)}, {"lp_old", as_json(g_old)}, {"lp_ref", as_json(g_ref)},
                {"offsets", offsets},  {"groups", groups},         {"eps", 0.2},
                {"beta", 0.04},        {"adv_eps", 1e-4},          {"sample_count", 16.0}};

  const json out = run_reference(in);

  std::vector<float> grad(n);
  const auto pol = clipped_policy_loss(lp, lp_old, adv, 0.2, 2.0 * n, grad);
  expect_close(pol.loss, out["policy"]["loss"], "policy loss");
  expect_close(grad, out["policy"]["grad"], "policy dL/dlp");
  EXPECT_EQ(pol.clipped, out["policy"]["clipped"].get<std::int64_t>());
  EXPECT_GT(pol.clipped, n / 10) << "the case should exercise clipping";
  EXPECT_LT(pol.clipped, n - n / 10);
  expect_close(pol.approx_kl_sum, out["policy"]["approx_kl_sum"], "approx KL");

  const auto val = clipped_value_loss(v, v_old, ret, 0.2, n, grad);
  expect_close(val.loss, out["value"]["loss"], "value loss");
  expect_close(grad, out["value"]["grad"], "value dL/dV");
  EXPECT_EQ(val.clipped, out["value"]["clipped"].get<std::int64_t>());
  EXPECT_GT(val.clipped, 0);

  std::vector<float> k1(n), k3(n), k3g(n);
  for (int t = 0; t < n; ++t) {
    k1[t] = static_cast<float>(kl_k1(lp[t], lp_ref[t]));
    k3[t] = static_cast<float>(kl_k3(lp[t], lp_ref[t]));
    k3g[t] = static_cast<float>(kl_k3_grad(lp[t], lp_ref[t]));
  }
  expect_close(k1, out["kl"]["k1"], "k1");
  expect_close(k3, out["kl"]["k3"], "k3");
  expect_close(k3g, out["kl"]["k3_grad"], "dk3/dlp");

  std::vector<float> shaped(n);
  kl_shaped_rewards(lp, lp_ref, 0.05, 0.75, shaped);
  expect_close(shaped, out["shaped"]["rewards"], "KL-shaped rewards");

  std::vector<float> gae_adv(resp), gae_ret(resp);
  compute_gae(rewards, values, GaeParams{0.99, 0.95}, gae_adv, gae_ret);
  expect_close(gae_adv, out["gae"]["advantages"], "GAE advantages");
  expect_close(gae_ret, out["gae"]["returns"], "GAE returns");

  std::vector<float> w = to_whiten;
  Moments m;
  m.add(w);
  whiten(w, m, 1e-8);
  expect_close(w, out["whiten"]["x"], "whitened");

  std::vector<double> g_adv(8);
  for (int g = 0; g < 2; ++g) grpo_advantages(groups[g], std::span(g_adv).subspan(4 * g, 4));
  for (int i = 0; i < 8; ++i) expect_close(g_adv[i], out["grpo"]["advantages"][i], fmt::format("GRPO A_{}", i));
  std::vector<float> g_grad(gn);
  // 16 samples in the step: this call holds half of them.
  const auto gr = grpo_loss(g_lp, g_old, g_ref, offsets, g_adv, 0.2, 0.04, 16.0, g_grad);
  expect_close(gr.loss, out["grpo"]["loss"], "GRPO loss");
  expect_close(g_grad, out["grpo"]["grad"], "GRPO dL/dlp");
  EXPECT_EQ(gr.samples, 8);
  EXPECT_EQ(gr.tokens, gn);
}

}  // namespace
}  // namespace pouch
