// The CPU attention kernels (runtime/cpu/attention.h) against a naive
// double-precision reference that builds the full T x T softmax, against
// central finite differences, and for bitwise determinism.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "runtime/cpu/attention.h"

namespace {

using i64 = std::int64_t;

struct Shape4 {
  i64 B, T, C, NH;
};

std::ostream& operator<<(std::ostream& os, const Shape4& s) {
  return os << "B=" << s.B << " T=" << s.T << " C=" << s.C << " NH=" << s.NH;
}

std::vector<float> random_vector(i64 n, std::uint32_t seed, float amplitude = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-amplitude, amplitude);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = dist(gen);
  return v;
}

// Naive causal attention in double. P is [B, NH, T, T] (zero above the
// diagonal), kept for the reference backward.
struct Reference {
  std::vector<double> out, lse, P;
};

Reference reference_forward(const std::vector<float>& qkv, const Shape4& s) {
  const i64 hs = s.C / s.NH, C3 = 3 * s.C, T = s.T;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hs));
  Reference r;
  r.out.assign(static_cast<std::size_t>(s.B * T * s.C), 0.0);
  r.lse.assign(static_cast<std::size_t>(s.B * s.NH * T), 0.0);
  r.P.assign(static_cast<std::size_t>(s.B * s.NH * T * T), 0.0);
  for (i64 b = 0; b < s.B; ++b)
    for (i64 h = 0; h < s.NH; ++h)
      for (i64 t = 0; t < T; ++t) {
        const float* q = &qkv[(b * T + t) * C3 + h * hs];
        std::vector<double> sc(static_cast<std::size_t>(t + 1));
        double m = -std::numeric_limits<double>::infinity();
        for (i64 j = 0; j <= t; ++j) {
          const float* k = &qkv[(b * T + j) * C3 + s.C + h * hs];
          double dot = 0.0;
          for (i64 d = 0; d < hs; ++d) dot += static_cast<double>(q[d]) * k[d];
          sc[j] = dot * scale;
          m = std::max(m, sc[j]);
        }
        double sum = 0.0;
        for (i64 j = 0; j <= t; ++j) sum += std::exp(sc[j] - m);
        const i64 bh = b * s.NH + h;
        r.lse[bh * T + t] = m + std::log(sum);
        double* P = &r.P[(bh * T + t) * T];
        for (i64 j = 0; j <= t; ++j) P[j] = std::exp(sc[j] - m) / sum;
        for (i64 d = 0; d < hs; ++d) {
          double acc = 0.0;
          for (i64 j = 0; j <= t; ++j) acc += P[j] * qkv[(b * T + j) * C3 + 2 * s.C + h * hs + d];
          r.out[(b * T + t) * s.C + h * hs + d] = acc;
        }
      }
  return r;
}

// Analytic backward of the reference, straight from the chain rule on the
// full matrices: dV = P^T dO, dP = dO V^T, dS = P o (dP - rowsum(P o dP)),
// dQ = scale dS K, dK = scale dS^T Q.
std::vector<double> reference_backward(const std::vector<float>& qkv, const std::vector<float>& dout,
                                       const Reference& ref, const Shape4& s) {
  const i64 hs = s.C / s.NH, C3 = 3 * s.C, T = s.T;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hs));
  std::vector<double> dqkv(static_cast<std::size_t>(s.B * T * C3), 0.0);
  auto at = [&](i64 b, i64 t, i64 col) { return static_cast<double>(qkv[(b * T + t) * C3 + col]); };
  for (i64 b = 0; b < s.B; ++b)
    for (i64 h = 0; h < s.NH; ++h) {
      const double* P = &ref.P[(b * s.NH + h) * T * T];
      for (i64 t = 0; t < T; ++t) {
        const float* dO = &dout[(b * T + t) * s.C + h * hs];
        std::vector<double> dP(static_cast<std::size_t>(t + 1));
        double Dt = 0.0;
        for (i64 j = 0; j <= t; ++j) {
          double acc = 0.0;
          for (i64 d = 0; d < hs; ++d) acc += dO[d] * at(b, j, 2 * s.C + h * hs + d);
          dP[j] = acc;
          Dt += P[t * T + j] * acc;
        }
        for (i64 j = 0; j <= t; ++j) {
          const double p = P[t * T + j];
          const double ds = p * (dP[j] - Dt) * scale;
          for (i64 d = 0; d < hs; ++d) {
            dqkv[(b * T + t) * C3 + h * hs + d] += ds * at(b, j, s.C + h * hs + d);
            dqkv[(b * T + j) * C3 + s.C + h * hs + d] += ds * at(b, t, h * hs + d);
            dqkv[(b * T + j) * C3 + 2 * s.C + h * hs + d] += p * dO[d];
          }
        }
      }
    }
  return dqkv;
}

double loss_double(const std::vector<double>& out, const std::vector<float>& R) {
  double l = 0.0;
  for (std::size_t i = 0; i < out.size(); ++i) l += out[i] * R[i];
  return l;
}

double loss_float(const std::vector<float>& out, const std::vector<float>& R) {
  double l = 0.0;
  for (std::size_t i = 0; i < out.size(); ++i) l += static_cast<double>(out[i]) * R[i];
  return l;
}

// |got - want| <= atol + rtol |want|, reporting the first few misses.
template <typename Got, typename Want>
void expect_close(const std::vector<Got>& got, const std::vector<Want>& want, double atol, double rtol,
                  const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int misses = 0;
  double worst = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    const double err = std::abs(g - w);
    worst = std::max(worst, err / (atol + rtol * std::abs(w)));
    if (!(err <= atol + rtol * std::abs(w)) && misses++ < 5)
      ADD_FAILURE() << what << "[" << i << "] = " << g << ", want " << w << " (err " << err << ")";
  }
  EXPECT_EQ(misses, 0) << what << ": " << misses << " of " << got.size()
                       << " entries out of tolerance; worst err/tol = " << worst;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct KernelResult {
  std::vector<float> out, lse, dqkv;
};

// Forward then backward of the kernels under test. Outputs start as NaN so a
// value the kernel forgets to write cannot pass as a stale one.
KernelResult run_kernels(const std::vector<float>& qkv, const std::vector<float>& dout, const Shape4& s) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  KernelResult r;
  r.out.assign(static_cast<std::size_t>(s.B * s.T * s.C), nan);
  r.lse.assign(static_cast<std::size_t>(s.B * s.NH * s.T), nan);
  r.dqkv.assign(static_cast<std::size_t>(s.B * s.T * 3 * s.C), nan);
  pouch::cpu::attention_forward(r.out.data(), r.lse.data(), qkv.data(), s.B, s.T, s.C, s.NH);
  pouch::cpu::attention_backward(r.dqkv.data(), dout.data(), qkv.data(), r.out.data(), r.lse.data(), s.B, s.T, s.C,
                                 s.NH);
  return r;
}

// T = 1, T = 37, head size 20, one head, C not a multiple of 8, B = 3, and T
// around and across the 64-row query block (exact multiple, one past, a short
// tail block).
const Shape4 kShapes[] = {
    {1, 1, 8, 1},   {2, 1, 20, 2},   {3, 37, 60, 3},  {2, 37, 20, 1},   {1, 64, 24, 4},
    {2, 65, 44, 2}, {1, 150, 60, 3}, {1, 200, 36, 1}, {1, 257, 128, 2},
};

class AttentionShapes : public ::testing::TestWithParam<Shape4> {};

TEST_P(AttentionShapes, ForwardMatchesDoubleReference) {
  const Shape4 s = GetParam();
  const auto qkv = random_vector(s.B * s.T * 3 * s.C, 1, 2.0f);
  const auto dout = random_vector(s.B * s.T * s.C, 2);
  const KernelResult run = run_kernels(qkv, dout, s);
  const Reference ref = reference_forward(qkv, s);
  expect_close(run.out, ref.out, 2e-6, 1e-5, "out");
  expect_close(run.lse, ref.lse, 2e-6, 1e-6, "lse");

  // Without lse (inference) the output is the same, bit for bit.
  std::vector<float> out2(run.out.size(), std::numeric_limits<float>::quiet_NaN());
  pouch::cpu::attention_forward(out2.data(), nullptr, qkv.data(), s.B, s.T, s.C, s.NH);
  EXPECT_TRUE(bitwise_equal(out2, run.out));
}

TEST_P(AttentionShapes, BackwardMatchesDoubleReference) {
  const Shape4 s = GetParam();
  const auto qkv = random_vector(s.B * s.T * 3 * s.C, 3, 2.0f);
  const auto dout = random_vector(s.B * s.T * s.C, 4);
  const KernelResult run = run_kernels(qkv, dout, s);
  const Reference ref = reference_forward(qkv, s);
  expect_close(run.dqkv, reference_backward(qkv, dout, ref, s), 2e-6, 2e-5, "dqkv");
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionShapes, ::testing::ValuesIn(kShapes));

// Restores the OpenMP thread count a test changed.
class ThreadCountGuard {
 public:
  ThreadCountGuard() : saved_(omp_get_max_threads()) {}
  ~ThreadCountGuard() { omp_set_num_threads(saved_); }

 private:
  int saved_;
};

// The double reference's analytic backward against central differences of the
// double reference forward, on every qkv entry: this pins the reference that
// the float kernel is compared with.
TEST(AttentionReference, BackwardMatchesFiniteDifferences) {
  const Shape4 s{2, 9, 12, 2};
  auto qkv = random_vector(s.B * s.T * 3 * s.C, 5, 2.0f);
  const auto R = random_vector(s.B * s.T * s.C, 6);
  const auto analytic = reference_backward(qkv, R, reference_forward(qkv, s), s);
  // Perturb in float storage by a power of two so q +- eps is exact.
  const float eps = 1.0f / 1024;
  for (std::size_t i = 0; i < qkv.size(); ++i) {
    const float saved = qkv[i];
    qkv[i] = saved + eps;
    const double lp = loss_double(reference_forward(qkv, s).out, R);
    qkv[i] = saved - eps;
    const double lm = loss_double(reference_forward(qkv, s).out, R);
    qkv[i] = saved;
    const double fd = (lp - lm) / (2.0 * eps);
    EXPECT_NEAR(analytic[i], fd, 1e-5 + 1e-4 * std::abs(fd)) << "qkv entry " << i;
  }
}

// The float kernels themselves against central differences of
// loss = sum(out * R), accumulated in double. Float rounding in out limits how
// small eps can be, hence the looser tolerance than the reference comparison.
TEST(AttentionKernel, BackwardMatchesFiniteDifferences) {
  // Hundreds of tiny forwards: one thread keeps them from paying for a
  // parallel region each (results do not depend on it, see Determinism).
  ThreadCountGuard guard;
  omp_set_num_threads(1);
  const Shape4 s{2, 37, 60, 3};
  const i64 C3 = 3 * s.C;
  auto qkv = random_vector(s.B * s.T * C3, 7, 2.0f);
  const auto R = random_vector(s.B * s.T * s.C, 8);
  const KernelResult run = run_kernels(qkv, R, s);

  std::vector<float> out(run.out.size());
  auto loss = [&] {
    pouch::cpu::attention_forward(out.data(), nullptr, qkv.data(), s.B, s.T, s.C, s.NH);
    return loss_float(out, R);
  };
  // Entries in q, k and v, of every head, at the first, last and middle
  // positions of both sequences.
  std::vector<i64> entries;
  for (i64 b : {i64{0}, s.B - 1})
    for (i64 t : {i64{0}, i64{1}, s.T / 2, s.T - 2, s.T - 1})
      for (i64 col = 0; col < C3; col += 7) entries.push_back((b * s.T + t) * C3 + col);

  const float eps = 1.0f / 64;
  int checked = 0, nonzero = 0;
  for (i64 i : entries) {
    const float saved = qkv[i];
    qkv[i] = saved + eps;
    const double lp = loss();
    qkv[i] = saved - eps;
    const double lm = loss();
    qkv[i] = saved;
    const double fd = (lp - lm) / (2.0 * eps);
    EXPECT_NEAR(run.dqkv[i], fd, 2e-3 + 1e-2 * std::abs(fd)) << "qkv entry " << i;
    ++checked;
    nonzero += std::abs(fd) > 1e-3;
  }
  // The sample must exercise real gradients: only the query at position 0
  // (one key, so P = 1) has an exactly zero gradient.
  EXPECT_GT(checked, 100);
  EXPECT_GT(nonzero, checked / 2);
}

TEST(AttentionDecode, MatchesForwardRow) {
  const Shape4 s{3, 45, 60, 3};
  const i64 C3 = 3 * s.C, T = s.T;
  const auto qkv = random_vector(s.B * T * C3, 9, 2.0f);
  std::vector<float> out(static_cast<std::size_t>(s.B * T * s.C));
  pouch::cpu::attention_forward(out.data(), nullptr, qkv.data(), s.B, T, s.C, s.NH);

  // A KV cache of Tmax = T + 3 positions; those past len hold NaN, which
  // would poison the result if the kernel read them.
  const i64 Tmax = T + 3;
  for (i64 t : {i64{0}, i64{1}, i64{17}, T - 1}) {
    std::vector<float> q(static_cast<std::size_t>(s.B * s.C));
    std::vector<float> k(static_cast<std::size_t>(s.B * Tmax * s.C), std::numeric_limits<float>::quiet_NaN());
    std::vector<float> v = k;
    for (i64 b = 0; b < s.B; ++b) {
      for (i64 c = 0; c < s.C; ++c) q[b * s.C + c] = qkv[(b * T + t) * C3 + c];
      for (i64 j = 0; j <= t; ++j)
        for (i64 c = 0; c < s.C; ++c) {
          k[(b * Tmax + j) * s.C + c] = qkv[(b * T + j) * C3 + s.C + c];
          v[(b * Tmax + j) * s.C + c] = qkv[(b * T + j) * C3 + 2 * s.C + c];
        }
    }
    std::vector<float> dec(static_cast<std::size_t>(s.B * s.C));
    pouch::cpu::attention_decode(dec.data(), q.data(), k.data(), v.data(), s.B, Tmax, t + 1, s.C, s.NH);
    std::vector<float> row(static_cast<std::size_t>(s.B * s.C));
    for (i64 b = 0; b < s.B; ++b)
      for (i64 c = 0; c < s.C; ++c) row[b * s.C + c] = out[(b * T + t) * s.C + c];
    SCOPED_TRACE(::testing::Message() << "t=" << t);
    expect_close(dec, row, 2e-6, 1e-5, "decode");
  }
}

// The kernels are designed to be bitwise reproducible: forward items and
// backward (b, h) pairs each own their outputs and reduce in a fixed order, so
// neither a rerun nor a different thread count changes a bit.
TEST(AttentionDeterminism, BitwiseAcrossRunsAndThreadCounts) {
  ThreadCountGuard guard;
  const Shape4 s{2, 150, 64, 4};
  const auto qkv = random_vector(s.B * s.T * 3 * s.C, 10, 2.0f);
  const auto dout = random_vector(s.B * s.T * s.C, 11);

  omp_set_num_threads(2);
  const KernelResult first = run_kernels(qkv, dout, s);
  const KernelResult again = run_kernels(qkv, dout, s);
  EXPECT_TRUE(bitwise_equal(first.out, again.out));
  EXPECT_TRUE(bitwise_equal(first.lse, again.lse));
  EXPECT_TRUE(bitwise_equal(first.dqkv, again.dqkv));

  for (int threads : {1, 3}) {
    omp_set_num_threads(threads);
    const KernelResult other = run_kernels(qkv, dout, s);
    EXPECT_TRUE(bitwise_equal(first.out, other.out)) << threads << " threads";
    EXPECT_TRUE(bitwise_equal(first.lse, other.lse)) << threads << " threads";
    EXPECT_TRUE(bitwise_equal(first.dqkv, other.dqkv)) << threads << " threads";
  }
}

}  // namespace
