#include "tests/runtime/op_harness/reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace pouch::op_harness::ref {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// log sum_j exp(s[j]) over j < n, shifted by the maximum so no exp overflows.
double log_sum_exp(const double* s, i64 n) {
  double m = kNegInf;
  for (i64 j = 0; j < n; ++j) m = std::max(m, s[j]);
  double sum = 0.0;
  for (i64 j = 0; j < n; ++j) sum += std::exp(s[j] - m);
  return m + std::log(sum);
}

}  // namespace

void matmul(Vec& out, const Vec& a, const Vec& b, bool trans_a, bool trans_b, i64 M, i64 N, i64 K, double alpha,
            double beta) {
  for (i64 i = 0; i < M; ++i)
    for (i64 j = 0; j < N; ++j) {
      double s = 0.0;
      for (i64 k = 0; k < K; ++k) s += a[trans_a ? k * M + i : i * K + k] * b[trans_b ? j * K + k : k * N + j];
      out[i * N + j] = alpha * s + (beta == 0.0 ? 0.0 : beta * out[i * N + j]);
    }
}

Vec linear_forward(const Vec& x, const Vec& w, const Vec& bias, i64 N, i64 I, i64 O) {
  Vec out(static_cast<std::size_t>(N * O));
  for (i64 n = 0; n < N; ++n)
    for (i64 o = 0; o < O; ++o) {
      double s = bias.empty() ? 0.0 : bias[o];
      for (i64 i = 0; i < I; ++i) s += x[n * I + i] * w[o * I + i];
      out[n * O + o] = s;
    }
  return out;
}

void linear_backward(Vec* dx, Vec* dw, Vec* dbias, const Vec& dy, const Vec& x, const Vec& w, i64 N, i64 I, i64 O) {
  if (dx)
    for (i64 n = 0; n < N; ++n)
      for (i64 i = 0; i < I; ++i) {
        double s = 0.0;
        for (i64 o = 0; o < O; ++o) s += dy[n * O + o] * w[o * I + i];
        (*dx)[n * I + i] = s;
      }
  if (dw)
    for (i64 o = 0; o < O; ++o)
      for (i64 i = 0; i < I; ++i) {
        double s = 0.0;
        for (i64 n = 0; n < N; ++n) s += dy[n * O + o] * x[n * I + i];
        (*dw)[o * I + i] += s;
      }
  if (dbias)
    for (i64 o = 0; o < O; ++o) {
      double s = 0.0;
      for (i64 n = 0; n < N; ++n) s += dy[n * O + o];
      (*dbias)[o] += s;
    }
}

LayerNorm layernorm_forward(const Vec& x, const Vec& w, const Vec& b, i64 N, i64 C, double eps) {
  LayerNorm r{Vec(static_cast<std::size_t>(N * C)), Vec(static_cast<std::size_t>(N)), Vec(static_cast<std::size_t>(N))};
  for (i64 n = 0; n < N; ++n) {
    const double* row = x.data() + n * C;
    double mean = 0.0;
    for (i64 c = 0; c < C; ++c) mean += row[c];
    mean /= static_cast<double>(C);
    double var = 0.0;
    for (i64 c = 0; c < C; ++c) var += (row[c] - mean) * (row[c] - mean);
    var /= static_cast<double>(C);
    const double rstd = 1.0 / std::sqrt(var + eps);
    for (i64 c = 0; c < C; ++c) r.out[n * C + c] = (row[c] - mean) * rstd * w[c] + b[c];
    r.mean[n] = mean;
    r.rstd[n] = rstd;
  }
  return r;
}

// out_c = xhat_c w_c + b_c with xhat_c = (x_c - mean) rstd, mean and rstd
// functions of the row: d xhat_c / d x_k = rstd (delta_ck - 1/C - xhat_c xhat_k / C).
// So with g = dy * w: dx_k = rstd (g_k - mean(g) - xhat_k mean(g xhat)).
void layernorm_backward(Vec* dx, Vec* dw, Vec* db, const Vec& dy, const Vec& x, const Vec& w, const Vec& mean,
                        const Vec& rstd, i64 N, i64 C) {
  for (i64 n = 0; n < N; ++n) {
    double g_mean = 0.0, gx_mean = 0.0;
    for (i64 c = 0; c < C; ++c) {
      const double xhat = (x[n * C + c] - mean[n]) * rstd[n];
      const double g = dy[n * C + c] * w[c];
      g_mean += g;
      gx_mean += g * xhat;
      if (dw) (*dw)[c] += dy[n * C + c] * xhat;
      if (db) (*db)[c] += dy[n * C + c];
    }
    g_mean /= static_cast<double>(C);
    gx_mean /= static_cast<double>(C);
    if (dx)
      for (i64 c = 0; c < C; ++c) {
        const double xhat = (x[n * C + c] - mean[n]) * rstd[n];
        (*dx)[n * C + c] += rstd[n] * (dy[n * C + c] * w[c] - g_mean - xhat * gx_mean);
      }
  }
}

namespace {
constexpr double kGeluA = 0.044715;
const double kSqrt2OverPi = std::sqrt(2.0 / std::numbers::pi);
}  // namespace

double gelu(double x) { return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + kGeluA * x * x * x))); }

// d/dx 0.5 x (1 + tanh u) = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) u',  u' = sqrt(2/pi) (1 + 3a x^2).
double gelu_grad(double x) {
  const double t = std::tanh(kSqrt2OverPi * (x + kGeluA * x * x * x));
  const double du = kSqrt2OverPi * (1.0 + 3.0 * kGeluA * x * x);
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du;
}

Vec softmax(const Vec& x, i64 N, i64 V, double temperature) {
  Vec out(x.size());
  Vec s(static_cast<std::size_t>(V));
  for (i64 n = 0; n < N; ++n) {
    for (i64 v = 0; v < V; ++v) s[v] = x[n * V + v] / temperature;
    const double lse = log_sum_exp(s.data(), V);
    for (i64 v = 0; v < V; ++v) out[n * V + v] = std::exp(s[v] - lse);
  }
  return out;
}

void embedding_forward(Vec& out, const Ids& ids, const Vec& table, i64 V, i64 C, i64 vocab_start, bool accumulate) {
  for (std::size_t n = 0; n < ids.size(); ++n) {
    const i64 r = ids[n] - vocab_start;
    const bool inside = r >= 0 && r < V;
    for (i64 c = 0; c < C; ++c) {
      const double row = inside ? table[r * C + c] : 0.0;
      out[n * C + c] = accumulate ? out[n * C + c] + row : row;
    }
  }
}

void embedding_backward(Vec& dtable, const Vec& dout, const Ids& ids, i64 V, i64 C, i64 vocab_start) {
  for (std::size_t n = 0; n < ids.size(); ++n) {
    const i64 r = ids[n] - vocab_start;
    if (r < 0 || r >= V) continue;
    for (i64 c = 0; c < C; ++c) dtable[r * C + c] += dout[n * C + c];
  }
}

namespace {

// Element d of head h's part (0 q, 1 k, 2 v) at row (b, t) of qkv [B,T,3C].
struct QkvIndex {
  i64 T, C, hs;
  i64 operator()(i64 b, i64 t, int part, i64 h, i64 d) const { return (b * T + t) * 3 * C + part * C + h * hs + d; }
};

// scale * q_t . k_j for j <= t, the causal scores of query t.
void causal_scores(double* s, const Vec& qkv, const QkvIndex& at, i64 b, i64 h, i64 t, double scale) {
  for (i64 j = 0; j <= t; ++j) {
    double dot = 0.0;
    for (i64 d = 0; d < at.hs; ++d) dot += qkv[at(b, t, 0, h, d)] * qkv[at(b, j, 1, h, d)];
    s[j] = scale * dot;
  }
}

}  // namespace

Attention attention_forward(const Vec& qkv, i64 B, i64 T, i64 C, i64 H) {
  const i64 hs = C / H;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hs));
  const QkvIndex at{T, C, hs};
  Attention r{Vec(static_cast<std::size_t>(B * T * C), 0.0), Vec(static_cast<std::size_t>(B * H * T))};
  Vec s(static_cast<std::size_t>(T));
  for (i64 b = 0; b < B; ++b)
    for (i64 h = 0; h < H; ++h)
      for (i64 t = 0; t < T; ++t) {
        causal_scores(s.data(), qkv, at, b, h, t, scale);
        const double lse = log_sum_exp(s.data(), t + 1);
        r.lse[(b * H + h) * T + t] = lse;
        for (i64 j = 0; j <= t; ++j) {
          const double p = std::exp(s[j] - lse);
          for (i64 d = 0; d < hs; ++d) r.out[(b * T + t) * C + h * hs + d] += p * qkv[at(b, j, 2, h, d)];
        }
      }
  return r;
}

// With P = softmax of the causal scores S = scale Q K^T and O = P V:
//   dV = P^T dO, dP = dO V^T, dS = P o (dP - rowsum(P o dP)), dQ = scale dS K, dK = scale dS^T Q.
Vec attention_backward(const Vec& dout, const Vec& qkv, i64 B, i64 T, i64 C, i64 H) {
  const i64 hs = C / H;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hs));
  const QkvIndex at{T, C, hs};
  Vec dqkv(qkv.size(), 0.0);
  Vec s(static_cast<std::size_t>(T)), dp(static_cast<std::size_t>(T));
  for (i64 b = 0; b < B; ++b)
    for (i64 h = 0; h < H; ++h)
      for (i64 t = 0; t < T; ++t) {
        causal_scores(s.data(), qkv, at, b, h, t, scale);
        const double lse = log_sum_exp(s.data(), t + 1);
        const double* dot = dout.data() + (b * T + t) * C + h * hs;
        double pdp = 0.0;
        for (i64 j = 0; j <= t; ++j) {
          s[j] = std::exp(s[j] - lse);
          dp[j] = 0.0;
          for (i64 d = 0; d < hs; ++d) dp[j] += dot[d] * qkv[at(b, j, 2, h, d)];
          pdp += s[j] * dp[j];
        }
        for (i64 j = 0; j <= t; ++j) {
          const double ds = s[j] * (dp[j] - pdp);
          for (i64 d = 0; d < hs; ++d) {
            dqkv[at(b, j, 2, h, d)] += s[j] * dot[d];
            dqkv[at(b, t, 0, h, d)] += scale * ds * qkv[at(b, j, 1, h, d)];
            dqkv[at(b, j, 1, h, d)] += scale * ds * qkv[at(b, t, 0, h, d)];
          }
        }
      }
  return dqkv;
}

Vec attention_decode(const Vec& q, const Vec& k, const Vec& v, i64 B, i64 Tmax, i64 len, i64 C, i64 H) {
  const i64 hs = C / H;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hs));
  Vec out(static_cast<std::size_t>(B * C), 0.0);
  Vec s(static_cast<std::size_t>(len));
  for (i64 b = 0; b < B; ++b)
    for (i64 h = 0; h < H; ++h) {
      for (i64 j = 0; j < len; ++j) {
        double dot = 0.0;
        for (i64 d = 0; d < hs; ++d) dot += q[b * C + h * hs + d] * k[(b * Tmax + j) * C + h * hs + d];
        s[j] = scale * dot;
      }
      const double lse = log_sum_exp(s.data(), len);
      for (i64 j = 0; j < len; ++j)
        for (i64 d = 0; d < hs; ++d)
          out[b * C + h * hs + d] += std::exp(s[j] - lse) * v[(b * Tmax + j) * C + h * hs + d];
    }
  return out;
}

void cross_entropy(Vec& losses, Vec& dlogits, const Vec& logits, const Ids& targets, i64 N, i64 V, double grad_scale) {
  for (i64 n = 0; n < N; ++n) {
    const double* row = logits.data() + n * V;
    const std::int32_t t = targets[n];
    const double lse = log_sum_exp(row, V);
    if (!losses.empty()) losses[n] = t < 0 ? 0.0 : lse - row[t];
    if (!dlogits.empty())
      for (i64 v = 0; v < V; ++v)
        dlogits[n * V + v] = t < 0 ? 0.0 : (std::exp(row[v] - lse) - (v == t ? 1.0 : 0.0)) * grad_scale;
  }
}

Vec vocab_parallel_max(const Vec& logits, i64 N, i64 V, i64 valid) {
  Vec m(static_cast<std::size_t>(N), kNegInf);
  for (i64 n = 0; n < N; ++n)
    for (i64 v = 0; v < valid; ++v) m[n] = std::max(m[n], logits[n * V + v]);
  return m;
}

Vec vocab_parallel_stats(const Vec& logits, const Vec& row_max, const Ids& targets, i64 N, i64 V, i64 valid,
                         i64 vocab_start) {
  Vec stats(static_cast<std::size_t>(2 * N), 0.0);
  for (i64 n = 0; n < N; ++n) {
    for (i64 v = 0; v < valid; ++v) stats[n] += std::exp(logits[n * V + v] - row_max[n]);
    const i64 local = targets[n] - vocab_start;
    if (targets[n] >= 0 && local >= 0 && local < valid) stats[N + n] = logits[n * V + local];
  }
  return stats;
}

void vocab_parallel_finish(Vec& losses, Vec& dlogits, const Vec& logits, const Vec& row_max, const Vec& stats,
                           const Ids& targets, i64 N, i64 V, i64 valid, i64 vocab_start, double grad_scale) {
  for (i64 n = 0; n < N; ++n) {
    const bool ignored = targets[n] < 0;
    const double sum_exp = stats[n], target_logit = stats[N + n];
    if (!losses.empty()) losses[n] = ignored ? 0.0 : std::log(sum_exp) + row_max[n] - target_logit;
    if (dlogits.empty()) continue;
    for (i64 v = 0; v < V; ++v) {
      double g = 0.0;
      if (!ignored && v < valid)
        g = (std::exp(logits[n * V + v] - row_max[n]) / sum_exp - (targets[n] - vocab_start == v ? 1.0 : 0.0)) *
            grad_scale;
      dlogits[n * V + v] = g;
    }
  }
}

void adamw(Vec& p, Vec& m, Vec& v, const Vec& grad, const AdamWParams& hp) {
  const double lr = hp.lr, b1 = hp.beta1, b2 = hp.beta2, eps = hp.eps, wd = hp.weight_decay;
  const double bias1 = 1.0 - std::pow(b1, static_cast<double>(hp.step));
  const double bias2 = 1.0 - std::pow(b2, static_cast<double>(hp.step));
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double g = grad[i] * static_cast<double>(hp.grad_scale);
    p[i] -= lr * wd * p[i];
    m[i] = b1 * m[i] + (1.0 - b1) * g;
    v[i] = b2 * v[i] + (1.0 - b2) * g * g;
    p[i] -= lr * (m[i] / bias1) / (std::sqrt(v[i] / bias2) + eps);
  }
}

double sum_squares(const Vec& x, i64 offset, i64 n) {
  double s = 0.0;
  for (i64 i = offset; i < offset + n; ++i) s += x[i] * x[i];
  return s;
}

}  // namespace pouch::op_harness::ref
