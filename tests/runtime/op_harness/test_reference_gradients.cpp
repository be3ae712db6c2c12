// The harness's references checked on their own: every backward against
// central finite differences of its forward (all in double, tiny shapes),
// and forwards against identities that hold independently of how they are
// written. A reference that passed the kernels with a wrong formula would
// fail here.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "tests/runtime/op_harness/compare.h"
#include "tests/runtime/op_harness/device_io.h"
#include "tests/runtime/op_harness/reference.h"

namespace pouch::op_harness {
namespace {

// Central differences: truncation O(h^2) ~ 1e-12 at these magnitudes,
// rounding ~ 1e-16 / h; 1e-7 relative L2 leaves room for both.
constexpr double kStep = 1e-5;
constexpr double kBound = 1e-7;

Vec finite_diff(const std::function<double(const Vec&)>& f, Vec x) {
  Vec g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + kStep;
    const double fp = f(x);
    x[i] = x0 - kStep;
    const double fm = f(x);
    x[i] = x0;
    g[i] = (fp - fm) / (2.0 * kStep);
  }
  return g;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

::testing::AssertionResult matches(const Vec& analytic, const Vec& numeric, double bound = kBound) {
  const Comparison c = compare(analytic, numeric, bound);
  if (c.ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "relative L2 error " << c.error << " > " << bound << "; " << c.detail;
}

TEST(ReferenceGradients, Linear) {
  const i64 N = 3, I = 4, O = 5;
  Rng rng(11);
  const Vec x = to_vec(rng.uniform(N * I)), w = to_vec(rng.uniform(O * I)), b = to_vec(rng.uniform(O));
  const Vec r = to_vec(rng.uniform(N * O));  // dy: the loss is sum(r * out)
  Vec dx(x.size()), dw(w.size(), 0.0), db(b.size(), 0.0);
  ref::linear_backward(&dx, &dw, &db, r, x, w, N, I, O);
  EXPECT_TRUE(matches(dx, finite_diff([&](const Vec& v) { return dot(r, ref::linear_forward(v, w, b, N, I, O)); }, x)));
  EXPECT_TRUE(matches(dw, finite_diff([&](const Vec& v) { return dot(r, ref::linear_forward(x, v, b, N, I, O)); }, w)));
  EXPECT_TRUE(matches(db, finite_diff([&](const Vec& v) { return dot(r, ref::linear_forward(x, w, v, N, I, O)); }, b)));
}

TEST(ReferenceGradients, LayerNorm) {
  const i64 N = 3, C = 5;
  const double eps = 1e-5;
  Rng rng(12);
  const Vec x = to_vec(rng.uniform(N * C, -2.0f, 2.0f)), w = to_vec(rng.uniform(C, 0.5f, 1.5f)),
            b = to_vec(rng.uniform(C)), r = to_vec(rng.uniform(N * C));
  const ref::LayerNorm f = ref::layernorm_forward(x, w, b, N, C, eps);
  Vec dx(x.size(), 0.0), dw(w.size(), 0.0), db(b.size(), 0.0);
  ref::layernorm_backward(&dx, &dw, &db, r, x, w, f.mean, f.rstd, N, C);
  const auto loss = [&](const Vec& xv, const Vec& wv, const Vec& bv) {
    return dot(r, ref::layernorm_forward(xv, wv, bv, N, C, eps).out);
  };
  EXPECT_TRUE(matches(dx, finite_diff([&](const Vec& v) { return loss(v, w, b); }, x)));
  EXPECT_TRUE(matches(dw, finite_diff([&](const Vec& v) { return loss(x, v, b); }, w)));
  EXPECT_TRUE(matches(db, finite_diff([&](const Vec& v) { return loss(x, w, v); }, b)));
}

TEST(ReferenceGradients, Gelu) {
  Rng rng(13);
  const Vec x = to_vec(rng.uniform(15, -6.0f, 6.0f));
  Vec g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) g[i] = ref::gelu_grad(x[i]);
  const Vec numeric = finite_diff(
      [&](const Vec& v) {
        double s = 0.0;
        for (double e : v) s += ref::gelu(e);
        return s;
      },
      x);
  EXPECT_TRUE(matches(g, numeric));
}

TEST(ReferenceGradients, Embedding) {
  const i64 V = 4, C = 3, vocab_start = 2;
  const ref::Ids ids{2, 5, 1, 3, 3, 7, 2};  // 1 and 7 lie outside [2, 6); 2 and 3 repeat
  Rng rng(14);
  const Vec table = to_vec(rng.uniform(V * C)), r = to_vec(rng.uniform(static_cast<i64>(ids.size()) * C));
  Vec dtable(table.size(), 0.0);
  ref::embedding_backward(dtable, r, ids, V, C, vocab_start);
  const Vec numeric = finite_diff(
      [&](const Vec& t) {
        Vec out(r.size());
        ref::embedding_forward(out, ids, t, V, C, vocab_start, false);
        return dot(r, out);
      },
      table);
  EXPECT_TRUE(matches(dtable, numeric));
}

TEST(ReferenceGradients, Attention) {
  const i64 B = 2, T = 4, C = 6, H = 2;
  Rng rng(15);
  const Vec qkv = to_vec(rng.uniform(B * T * 3 * C, -2.0f, 2.0f)), r = to_vec(rng.uniform(B * T * C));
  const Vec numeric = finite_diff([&](const Vec& v) { return dot(r, ref::attention_forward(v, B, T, C, H).out); }, qkv);
  EXPECT_TRUE(matches(ref::attention_backward(r, qkv, B, T, C, H), numeric));
}

TEST(ReferenceGradients, CrossEntropy) {
  const i64 N = 4, V = 5;
  const double grad_scale = 0.5;
  const ref::Ids targets{1, -1, 4, 0};
  Rng rng(16);
  const Vec logits = to_vec(rng.uniform(N * V, -4.0f, 4.0f));
  Vec losses(N), dlogits(N * V);
  ref::cross_entropy(losses, dlogits, logits, targets, N, V, grad_scale);
  const Vec numeric = finite_diff(
      [&](const Vec& l) {
        Vec ls(N), unused;
        ref::cross_entropy(ls, unused, l, targets, N, V, grad_scale);
        double s = 0.0;
        for (double e : ls) s += grad_scale * e;
        return s;
      },
      logits);
  EXPECT_TRUE(matches(dlogits, numeric));
}

// The three vocab-parallel steps composed on one shard with padding: the loss
// as a function of the logits, through max and stats, differentiates to finish's dlogits.
TEST(ReferenceGradients, VocabParallelFinish) {
  const i64 N = 4, V = 6, valid = 4, vocab_start = 3;
  const double grad_scale = 2.0;
  const ref::Ids targets{3, 6, -1, 5};
  Rng rng(17);
  const Vec logits = to_vec(rng.uniform(N * V, -4.0f, 4.0f));
  const auto run = [&](const Vec& l, Vec& losses, Vec& dlogits) {
    const Vec m = ref::vocab_parallel_max(l, N, V, valid);
    const Vec stats = ref::vocab_parallel_stats(l, m, targets, N, V, valid, vocab_start);
    ref::vocab_parallel_finish(losses, dlogits, l, m, stats, targets, N, V, valid, vocab_start, grad_scale);
  };
  Vec losses(N), dlogits(N * V);
  run(logits, losses, dlogits);
  const Vec numeric = finite_diff(
      [&](const Vec& l) {
        Vec ls(N), unused;
        run(l, ls, unused);
        double s = 0.0;
        for (double e : ls) s += grad_scale * e;
        return s;
      },
      logits);
  EXPECT_TRUE(matches(dlogits, numeric));
}

// ---- forward identities ----------------------------------------------------

// loss = -log softmax(row)[target], and two shards' pieces compose to the full loss.
TEST(ReferenceIdentities, CrossEntropyIsMinusLogSoftmaxAndShardsCompose) {
  const i64 N = 3, V = 7;
  const ref::Ids targets{6, 0, 3};
  Rng rng(18);
  const Vec logits = to_vec(rng.uniform(N * V, -4.0f, 4.0f));
  Vec losses(N), dlogits(N * V);
  ref::cross_entropy(losses, dlogits, logits, targets, N, V, 1.0);
  const Vec p = ref::softmax(logits, N, V, 1.0);
  Vec from_softmax(N);
  for (i64 n = 0; n < N; ++n) from_softmax[n] = -std::log(p[n * V + targets[n]]);
  EXPECT_TRUE(matches(losses, from_softmax, 1e-14));

  const i64 W = 4;  // shards [0, 4) and [4, 7) padded to 4
  Vec m(N, -INFINITY), stats(2 * N, 0.0);
  Vec shards[2];
  for (i64 r = 0; r < 2; ++r) {
    shards[r] = Vec(N * W, 100.0);
    for (i64 n = 0; n < N; ++n)
      for (i64 j = 0; j < std::min(W, V - r * W); ++j) shards[r][n * W + j] = logits[n * V + r * W + j];
    const Vec mr = ref::vocab_parallel_max(shards[r], N, W, std::min(W, V - r * W));
    for (i64 n = 0; n < N; ++n) m[n] = std::max(m[n], mr[n]);
  }
  for (i64 r = 0; r < 2; ++r) {
    const Vec st = ref::vocab_parallel_stats(shards[r], m, targets, N, W, std::min(W, V - r * W), r * W);
    for (i64 i = 0; i < 2 * N; ++i) stats[i] += st[i];
  }
  Vec vp_losses(N), unused;
  ref::vocab_parallel_finish(vp_losses, unused, shards[1], m, stats, targets, N, W, V - W, W, 1.0);
  EXPECT_TRUE(matches(vp_losses, losses, 1e-14));
}

// With one key every query sees only itself: out = v, lse = its own score.
TEST(ReferenceIdentities, AttentionOverOnePositionIsTheValue) {
  const i64 B = 2, T = 1, C = 4, H = 2;
  Rng rng(19);
  const Vec qkv = to_vec(rng.uniform(B * T * 3 * C));
  const ref::Attention a = ref::attention_forward(qkv, B, T, C, H);
  Vec v(B * C), lse(B * H);
  for (i64 b = 0; b < B; ++b)
    for (i64 c = 0; c < C; ++c) v[b * C + c] = qkv[b * 3 * C + 2 * C + c];
  for (i64 b = 0; b < B; ++b)
    for (i64 h = 0; h < H; ++h) {
      double s = 0.0;
      for (i64 d = 0; d < C / H; ++d) s += qkv[b * 3 * C + h * 2 + d] * qkv[b * 3 * C + C + h * 2 + d];
      lse[b * H + h] = s / std::sqrt(2.0);
    }
  EXPECT_TRUE(matches(a.out, v, 1e-15));
  EXPECT_TRUE(matches(a.lse, lse, 1e-15));
  // Decoding the last position of a cache equals the causal forward's last row.
  const ref::Attention full = ref::attention_forward(qkv, 1, 1, C, H);
  EXPECT_TRUE(
      matches(ref::attention_decode(Vec(qkv.begin(), qkv.begin() + C), Vec(qkv.begin() + C, qkv.begin() + 2 * C),
                                    Vec(qkv.begin() + 2 * C, qkv.begin() + 3 * C), 1, 1, 1, C, H),
              full.out, 1e-15));
}

// LayerNorm with w = 1, b = 0 gives rows of mean 0 and (biased) variance var / (var + eps).
TEST(ReferenceIdentities, LayerNormRowsAreStandardised) {
  const i64 N = 3, C = 9;
  Rng rng(20);
  const Vec x = to_vec(rng.uniform(N * C, 2.0f, 6.0f));
  const ref::LayerNorm f = ref::layernorm_forward(x, Vec(C, 1.0), Vec(C, 0.0), N, C, 0.0);
  for (i64 n = 0; n < N; ++n) {
    double mean = 0.0, var = 0.0;
    for (i64 c = 0; c < C; ++c) mean += f.out[n * C + c] / C;
    for (i64 c = 0; c < C; ++c) var += f.out[n * C + c] * f.out[n * C + c] / C;
    EXPECT_NEAR(mean, 0.0, 1e-14);
    EXPECT_NEAR(var, 1.0, 1e-13);
  }
}

// AdamW's first step without decay moves each parameter by lr * g / (|g| + eps'), about lr * sign(g).
TEST(ReferenceIdentities, AdamWFirstStepIsSignOfGradient) {
  AdamWParams hp;
  hp.lr = 0.1f;
  hp.eps = 0.0f;
  hp.weight_decay = 0.0f;
  hp.step = 1;
  Vec p{1.0, -2.0, 0.5}, m(3, 0.0), v(3, 0.0);
  ref::adamw(p, m, v, {0.3, -4.0, 1e-3}, hp);
  EXPECT_TRUE(matches(p, {1.0 - 0.1, -2.0 + 0.1, 0.5 - 0.1}, 1e-7));
  // Decoupled decay: with a zero gradient (m = v = 0 stays, eps > 0) only p *= 1 - lr * wd.
  hp.eps = 1e-8f;
  hp.weight_decay = 0.5f;
  Vec q{2.0}, mq{0.0}, vq{0.0};
  ref::adamw(q, mq, vq, {0.0}, hp);
  EXPECT_TRUE(matches(q, {2.0 * (1.0 - 0.1 * 0.5)}, 1e-7));
}

}  // namespace
}  // namespace pouch::op_harness
