#pragma once
// Naive double-precision reference implementations of the CPU kernels, and the
// helpers the kernel tests share: random inputs, tensor <-> vector copies, a
// tolerance check that names the worst element, and central finite
// differences of a scalar function in double.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

#include "runtime/backend.h"
#include "runtime/tensor.h"

namespace pouch::ref {

using i64 = std::int64_t;
using Vec = std::vector<double>;

inline std::vector<float> random_floats(i64 n, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = dist(gen);
  return v;
}

inline Vec to_double(const std::vector<float>& v) { return Vec(v.begin(), v.end()); }

inline Tensor make_tensor(const std::vector<float>& v, Shape shape) {
  Tensor t = Tensor::empty(std::move(shape));
  EXPECT_EQ(static_cast<std::size_t>(t.numel()), v.size());
  if (!v.empty()) std::memcpy(t.f32(), v.data(), v.size() * sizeof(float));
  return t;
}

inline Tensor make_ids(const std::vector<std::int32_t>& v, Shape shape) {
  Tensor t = Tensor::empty(std::move(shape), DType::I32);
  EXPECT_EQ(static_cast<std::size_t>(t.numel()), v.size());
  if (!v.empty()) std::memcpy(t.i32(), v.data(), v.size() * sizeof(std::int32_t));
  return t;
}

inline std::vector<float> to_vector(const Tensor& t) { return std::vector<float>(t.f32(), t.f32() + t.numel()); }

// Tensor filled with a quiet NaN: an output that must be overwritten ("=")
// cannot pass by accident with whatever the allocator left there.
inline Tensor nan_tensor(Shape shape) {
  Tensor t = Tensor::empty(std::move(shape));
  t.fill_(std::numeric_limits<float>::quiet_NaN());
  return t;
}

inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// Every |got - want| <= atol + rtol * |want|; on failure names the worst element.
inline ::testing::AssertionResult all_close(const float* got, const double* want, i64 n, double atol, double rtol) {
  i64 worst = -1;
  double worst_excess = 0.0;
  for (i64 i = 0; i < n; ++i) {
    const double err = std::abs(static_cast<double>(got[i]) - want[i]);
    const double excess = err - (atol + rtol * std::abs(want[i]));
    if (!(excess <= 0.0) && (worst < 0 || !(excess <= worst_excess))) {
      worst = i;
      worst_excess = excess;
      if (std::isnan(excess)) break;
    }
  }
  if (worst < 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "element " << worst << " of " << n << ": got " << got[worst] << ", want "
                                       << want[worst] << " (atol " << atol << ", rtol " << rtol << ")";
}

inline ::testing::AssertionResult all_close(const Tensor& got, const Vec& want, double atol, double rtol) {
  if (static_cast<std::size_t>(got.numel()) != want.size())
    return ::testing::AssertionFailure() << "size " << got.numel() << " vs " << want.size();
  return all_close(got.f32(), want.data(), got.numel(), atol, rtol);
}

// d f / d x_i by central differences in double, for every i.
inline Vec finite_diff(const std::function<double(const Vec&)>& f, Vec x, double h = 1e-5) {
  Vec g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double fp = f(x);
    x[i] = x0 - h;
    const double fm = f(x);
    x[i] = x0;
    g[i] = (fp - fm) / (2.0 * h);
  }
  return g;
}

inline double dot(const Vec& a, const Vec& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Runs fn with `threads` OpenMP threads, then restores the previous count.
template <typename Fn>
void with_threads(int threads, Fn&& fn) {
  const int before = omp_get_max_threads();
  omp_set_num_threads(threads);
  fn();
  omp_set_num_threads(before);
}

// ---- references -----------------------------------------------------------

// C[M,N] = alpha op(A) op(B) + beta C
inline Vec matmul(const Vec& A, const Vec& B, const Vec& C, bool ta, bool tb, i64 M, i64 N, i64 K, double alpha,
                  double beta) {
  Vec out(static_cast<std::size_t>(M * N));
  for (i64 i = 0; i < M; ++i)
    for (i64 j = 0; j < N; ++j) {
      double s = 0.0;
      for (i64 k = 0; k < K; ++k) s += A[ta ? k * M + i : i * K + k] * B[tb ? j * K + k : k * N + j];
      out[i * N + j] = alpha * s + (beta == 0.0 ? 0.0 : beta * C[i * N + j]);
    }
  return out;
}

// out[N,O] = x[N,I] w[O,I]^T + bias[O] (bias empty = none)
inline Vec linear(const Vec& x, const Vec& w, const Vec& bias, i64 N, i64 I, i64 O) {
  Vec out(static_cast<std::size_t>(N * O));
  for (i64 n = 0; n < N; ++n)
    for (i64 o = 0; o < O; ++o) {
      double s = bias.empty() ? 0.0 : bias[o];
      for (i64 i = 0; i < I; ++i) s += x[n * I + i] * w[o * I + i];
      out[n * O + o] = s;
    }
  return out;
}

struct LayerNormOut {
  Vec out, mean, rstd;
};

inline LayerNormOut layernorm(const Vec& x, const Vec& w, const Vec& b, i64 N, i64 C, double eps) {
  LayerNormOut r{Vec(static_cast<std::size_t>(N * C)), Vec(static_cast<std::size_t>(N)),
                 Vec(static_cast<std::size_t>(N))};
  for (i64 n = 0; n < N; ++n) {
    double m = 0.0, v = 0.0;
    for (i64 c = 0; c < C; ++c) m += x[n * C + c];
    m /= static_cast<double>(C);
    for (i64 c = 0; c < C; ++c) v += (x[n * C + c] - m) * (x[n * C + c] - m);
    v /= static_cast<double>(C);
    const double rs = 1.0 / std::sqrt(v + eps);
    for (i64 c = 0; c < C; ++c) r.out[n * C + c] = (x[n * C + c] - m) * rs * w[c] + b[c];
    r.mean[n] = m;
    r.rstd[n] = rs;
  }
  return r;
}

inline double gelu(double x) {
  const double u = std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x);
  return 0.5 * x * (1.0 + std::tanh(u));
}

inline Vec softmax(const Vec& x, i64 N, i64 V, double temperature) {
  Vec out(x.size());
  for (i64 n = 0; n < N; ++n) {
    double m = -std::numeric_limits<double>::infinity();
    for (i64 v = 0; v < V; ++v) m = std::max(m, x[n * V + v] / temperature);
    double s = 0.0;
    for (i64 v = 0; v < V; ++v) s += std::exp(x[n * V + v] / temperature - m);
    for (i64 v = 0; v < V; ++v) out[n * V + v] = std::exp(x[n * V + v] / temperature - m) / s;
  }
  return out;
}

// losses[N] = logsumexp - logit[target]; 0 where target < 0.
inline Vec cross_entropy_losses(const Vec& logits, const std::vector<std::int32_t>& targets, i64 N, i64 V) {
  Vec losses(static_cast<std::size_t>(N), 0.0);
  for (i64 n = 0; n < N; ++n) {
    if (targets[n] < 0) continue;
    double m = -std::numeric_limits<double>::infinity();
    for (i64 v = 0; v < V; ++v) m = std::max(m, logits[n * V + v]);
    double s = 0.0;
    for (i64 v = 0; v < V; ++v) s += std::exp(logits[n * V + v] - m);
    losses[n] = m + std::log(s) - logits[n * V + targets[n]];
  }
  return losses;
}

// out[N,C] = table[ids - vocab_start] inside the range, else 0 (or base when given).
inline Vec embedding(const std::vector<std::int32_t>& ids, const Vec& table, i64 V, i64 C, i64 vocab_start,
                     const Vec& base = {}) {
  const i64 N = static_cast<i64>(ids.size());
  Vec out = base.empty() ? Vec(static_cast<std::size_t>(N * C), 0.0) : base;
  for (i64 n = 0; n < N; ++n) {
    const i64 r = ids[n] - vocab_start;
    if (r < 0 || r >= V) continue;
    for (i64 c = 0; c < C; ++c) out[n * C + c] += table[r * C + c];
  }
  return out;
}

struct AdamWRef {
  Vec p, m, v;
};

// torch.optim.AdamW, one step in double.
inline void adamw_step(AdamWRef& s, const Vec& grad, const AdamWParams& hp) {
  const double t = static_cast<double>(hp.step);
  const double bc1 = 1.0 - std::pow(static_cast<double>(hp.beta1), t);
  const double bc2 = 1.0 - std::pow(static_cast<double>(hp.beta2), t);
  for (std::size_t i = 0; i < s.p.size(); ++i) {
    const double g = grad[i] * static_cast<double>(hp.grad_scale);
    s.p[i] *= 1.0 - static_cast<double>(hp.lr) * static_cast<double>(hp.weight_decay);
    s.m[i] = hp.beta1 * s.m[i] + (1.0 - hp.beta1) * g;
    s.v[i] = hp.beta2 * s.v[i] + (1.0 - hp.beta2) * g * g;
    const double mhat = s.m[i] / bc1, vhat = s.v[i] / bc2;
    s.p[i] -= static_cast<double>(hp.lr) * mhat / (std::sqrt(vhat) + static_cast<double>(hp.eps));
  }
}

}  // namespace pouch::ref
