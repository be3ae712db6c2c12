// Causal multi-head attention on the CPU in the blocked form of FlashAttention-2
// (Dao 2023, "FlashAttention-2: Faster Attention with Better Parallelism and
// Work Partitioning"), with the tiles sized for a CPU cache instead of SRAM.
//
// Forward, per work item (b, h, query block i of Bq rows, keys [0, kv_end)):
//   S  = scale * Q_i K^T                  [Bq, kv_end]   (sgemm, per-thread scratch)
//   P  = exp(S - m) on j <= t, 0 beyond   m = row max    (causal mask)
//   O_i = (P V) / rowsum(P)               [Bq, hs]       (sgemm straight into out)
//   lse_t = m + log(rowsum(P))
// kv_end is the block's last row + 1, so one block never needs a second pass
// or the online-softmax rescaling: the scratch row already holds every key.
//
// Backward, per (b, h), query blocks in order (Dao 2023, Algorithm 2):
//   D_t = sum_d dO_td O_td
//   P   = exp(scale * Q_i K^T - lse)      recomputed, never stored
//   dV += P^T dO_i
//   dP  = dO_i V^T
//   dS  = P o (dP - D)
//   dQ_i = scale * dS K
//   dK += scale * dS^T Q_i
// A (b, h) pair owns its columns of dK and dV and walks its query blocks in a
// fixed order, so the result is bitwise independent of thread count and
// scheduling without atomics or a reduction buffer.
//
// All products are cblas_sgemm on strided views: q, k, v of head h sit at
// column offsets h*hs, C + h*hs and 2C + h*hs of qkv with leading dimension 3C,
// out and dout have leading dimension C. The sgemms run inside our OpenMP
// region, where the OpenMP build of OpenBLAS sees omp_in_parallel() and runs
// single-threaded: no nested teams, no oversubscription.
#include "runtime/cpu/attention.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "runtime/cpu/simd.h"
#include "runtime/error.h"

namespace pouch::cpu {
namespace {

using i64 = std::int64_t;

// Query rows per block. 64 keeps each sgemm large enough for OpenBLAS's
// AVX-512 kernels while bounding the causal waste (the upper triangle of the
// diagonal tile) to Bq/2 keys per row; the scratch (Bq x T floats, twice in
// backward) stays in L2 up to T = 2048.
constexpr i64 kBlockQ = 64;

// Row helpers. Every reduction runs in an order fixed by the length alone
// (two 8-wide accumulators, then a masked tail), never by the address or by
// which thread runs it, so the results are bitwise reproducible.
#if POUCH_HAVE_AVX2

// Lanes [0, rem) set, rem in [1, 8).
inline __m256i tail_mask(i64 rem) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(rem)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// sum_j a[j] * b[j], j < n.
inline float dot(const float* a, const float* b, i64 n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  i64 j = 0;
  for (; j + 16 <= n; j += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j + 8), _mm256_loadu_ps(b + j + 8), acc1);
  }
  if (j + 8 <= n) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), acc0);
    j += 8;
  }
  if (j < n) {
    const __m256i mask = tail_mask(n - j);
    acc1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + j, mask), _mm256_maskload_ps(b + j, mask), acc1);
  }
  return hsum256_ps(_mm256_add_ps(acc0, acc1));
}

// max_j s[j], j < n (n >= 1).
inline float row_max(const float* s, i64 n) {
  const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
  __m256 m0 = neg_inf, m1 = neg_inf;
  i64 j = 0;
  for (; j + 16 <= n; j += 16) {
    m0 = _mm256_max_ps(m0, _mm256_loadu_ps(s + j));
    m1 = _mm256_max_ps(m1, _mm256_loadu_ps(s + j + 8));
  }
  if (j + 8 <= n) {
    m0 = _mm256_max_ps(m0, _mm256_loadu_ps(s + j));
    j += 8;
  }
  if (j < n) {
    const __m256i mask = tail_mask(n - j);
    m1 = _mm256_max_ps(m1, _mm256_blendv_ps(neg_inf, _mm256_maskload_ps(s + j, mask), _mm256_castsi256_ps(mask)));
  }
  return hmax256_ps(_mm256_max_ps(m0, m1));
}

// s[j] = exp(s[j] - m) for j < n; returns the sum of the new s[0, n).
inline float exp_shift_sum(float* s, i64 n, float m) {
  const __m256 vm = _mm256_set1_ps(m);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  i64 j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m256 e0 = exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
    const __m256 e1 = exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(s + j + 8), vm));
    _mm256_storeu_ps(s + j, e0);
    _mm256_storeu_ps(s + j + 8, e1);
    acc0 = _mm256_add_ps(acc0, e0);
    acc1 = _mm256_add_ps(acc1, e1);
  }
  if (j + 8 <= n) {
    const __m256 e = exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
    _mm256_storeu_ps(s + j, e);
    acc0 = _mm256_add_ps(acc0, e);
    j += 8;
  }
  if (j < n) {
    const __m256i mask = tail_mask(n - j);
    const __m256 e =
        _mm256_and_ps(exp256_ps(_mm256_sub_ps(_mm256_maskload_ps(s + j, mask), vm)), _mm256_castsi256_ps(mask));
    _mm256_maskstore_ps(s + j, mask, e);
    acc1 = _mm256_add_ps(acc1, e);
  }
  return hsum256_ps(_mm256_add_ps(acc0, acc1));
}

// p[j] = exp(p[j] - l); ds[j] = p[j] * (ds[j] - d), for j < n.
inline void softmax_grad_row(float* p, float* ds, i64 n, float l, float d) {
  const __m256 vl = _mm256_set1_ps(l), vd = _mm256_set1_ps(d);
  i64 j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 e = exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(p + j), vl));
    _mm256_storeu_ps(p + j, e);
    _mm256_storeu_ps(ds + j, _mm256_mul_ps(e, _mm256_sub_ps(_mm256_loadu_ps(ds + j), vd)));
  }
  if (j < n) {
    const __m256i mask = tail_mask(n - j);
    const __m256 e = exp256_ps(_mm256_sub_ps(_mm256_maskload_ps(p + j, mask), vl));
    _mm256_maskstore_ps(p + j, mask, e);
    _mm256_maskstore_ps(ds + j, mask, _mm256_mul_ps(e, _mm256_sub_ps(_mm256_maskload_ps(ds + j, mask), vd)));
  }
}

#else  // scalar forms, in sequential order

inline float dot(const float* a, const float* b, i64 n) {
  float acc = 0.0f;
  for (i64 j = 0; j < n; ++j) acc += a[j] * b[j];
  return acc;
}

inline float row_max(const float* s, i64 n) {
  float m = s[0];
  for (i64 j = 1; j < n; ++j) m = std::max(m, s[j]);
  return m;
}

inline float exp_shift_sum(float* s, i64 n, float m) {
  float acc = 0.0f;
  for (i64 j = 0; j < n; ++j) {
    s[j] = std::exp(s[j] - m);
    acc += s[j];
  }
  return acc;
}

inline void softmax_grad_row(float* p, float* ds, i64 n, float l, float d) {
  for (i64 j = 0; j < n; ++j) {
    p[j] = std::exp(p[j] - l);
    ds[j] = p[j] * (ds[j] - d);
  }
}

#endif  // POUCH_HAVE_AVX2

// A scratch buffer per OpenMP thread that lives across calls: libgomp keeps
// its threads, so after the first step no call allocates (a fresh 256 KiB
// vector per call would be an mmap plus page faults every time).
float* thread_scratch(i64 n) {
  thread_local std::vector<float> buffer;
  if (static_cast<i64>(buffer.size()) < n) buffer.resize(static_cast<std::size_t>(n));
  return buffer.data();
}

void check_shapes(i64 B, i64 T, i64 C, i64 NH) {
  POUCH_CHECK(B > 0 && T > 0 && C > 0 && NH > 0, "B={} T={} C={} NH={}", B, T, C, NH);
  POUCH_CHECK(C % NH == 0, "C={} is not divisible by NH={}", C, NH);
}

}  // namespace

void attention_forward(float* out, float* lse, const float* qkv, i64 B, i64 T, i64 C, i64 NH) {
  check_shapes(B, T, C, NH);
  const i64 hs = C / NH;
  const i64 C3 = 3 * C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  const i64 n_blocks = (T + kBlockQ - 1) / kBlockQ;
  const i64 n_bh = B * NH;
  const i64 n_items = n_bh * n_blocks;

#pragma omp parallel
  {
    float* S = thread_scratch(kBlockQ * T);  // [Bq, T], row stride T

    // Items run from the last query block (the most keys) to the first, so
    // the dynamic schedule ends on the cheapest ones and the threads finish
    // together.
#pragma omp for schedule(dynamic, 1)
    for (i64 item = 0; item < n_items; ++item) {
      const i64 blk = n_blocks - 1 - item / n_bh;
      const i64 bh = item % n_bh;
      const i64 b = bh / NH, h = bh % NH;
      const i64 q0 = blk * kBlockQ;
      const i64 rows = std::min(kBlockQ, T - q0);
      const i64 kv_end = q0 + rows;

      const float* base = qkv + b * T * C3;
      const float* Q = base + q0 * C3 + h * hs;    // [rows, hs], ld 3C
      const float* K = base + C + h * hs;          // [kv_end, hs], ld 3C
      const float* V = base + 2 * C + h * hs;      // [kv_end, hs], ld 3C
      float* O = out + (b * T + q0) * C + h * hs;  // [rows, hs], ld C

      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows), static_cast<int>(kv_end),
                  static_cast<int>(hs), scale, Q, static_cast<int>(C3), K, static_cast<int>(C3), 0.0f, S,
                  static_cast<int>(T));

      float inv_sum[kBlockQ];
      for (i64 r = 0; r < rows; ++r) {
        float* s = S + r * T;
        const i64 n = q0 + r + 1;  // causal: query t sees keys 0..t
        const float m = row_max(s, n);
        const float sum = exp_shift_sum(s, n, m);
        std::fill(s + n, s + kv_end, 0.0f);
        inv_sum[r] = 1.0f / sum;
        if (lse) lse[bh * T + q0 + r] = m + std::log(sum);
      }

      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), static_cast<int>(hs),
                  static_cast<int>(kv_end), 1.0f, S, static_cast<int>(T), V, static_cast<int>(C3), 0.0f, O,
                  static_cast<int>(C));
      // Normalising O (rows x hs) rather than P (rows x kv_end) is the cheaper side.
      for (i64 r = 0; r < rows; ++r)
        for (i64 d = 0; d < hs; ++d) O[r * C + d] *= inv_sum[r];
    }
  }
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse, i64 B,
                        i64 T, i64 C, i64 NH) {
  check_shapes(B, T, C, NH);
  const i64 hs = C / NH;
  const i64 C3 = 3 * C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  const i64 n_blocks = (T + kBlockQ - 1) / kBlockQ;
  const i64 n_bh = B * NH;
  POUCH_CHECK(lse != nullptr, "attention_backward needs the forward's lse");

#pragma omp parallel
  {
    float* scratch = thread_scratch(2 * kBlockQ * T + T);
    float* P = scratch;                    // [Bq, T]: S, then P
    float* dS = scratch + kBlockQ * T;     // [Bq, T]: dP, then dS
    float* D = scratch + 2 * kBlockQ * T;  // [T]

    // Items cost the same, but dynamic hands them to whichever thread is
    // running: with more threads than free cores a static split waits on a
    // descheduled thread. Which thread runs an item never changes its result.
#pragma omp for schedule(dynamic, 1)
    for (i64 bh = 0; bh < n_bh; ++bh) {
      const i64 b = bh / NH, h = bh % NH;
      const float* base = qkv + b * T * C3;
      const float* Qh = base + h * hs;               // [T, hs], ld 3C
      const float* Kh = base + C + h * hs;           // [T, hs], ld 3C
      const float* Vh = base + 2 * C + h * hs;       // [T, hs], ld 3C
      const float* dOh = dout + b * T * C + h * hs;  // [T, hs], ld C
      const float* Oh = out + b * T * C + h * hs;    // [T, hs], ld C
      const float* lse_h = lse + bh * T;             // [T]
      float* dbase = dqkv + b * T * C3;
      float* dQh = dbase + h * hs;          // [T, hs], ld 3C, "=" block by block
      float* dKh = dbase + C + h * hs;      // [T, hs], ld 3C, accumulated
      float* dVh = dbase + 2 * C + h * hs;  // [T, hs], ld 3C, accumulated

      for (i64 t = 0; t < T; ++t) {
        D[t] = dot(dOh + t * C, Oh + t * C, hs);
        std::fill(dKh + t * C3, dKh + t * C3 + hs, 0.0f);
        std::fill(dVh + t * C3, dVh + t * C3 + hs, 0.0f);
      }

      for (i64 blk = 0; blk < n_blocks; ++blk) {
        const i64 q0 = blk * kBlockQ;
        const i64 rows = std::min(kBlockQ, T - q0);
        const i64 kv_end = q0 + rows;
        const int M = static_cast<int>(rows), N = static_cast<int>(kv_end), H = static_cast<int>(hs);
        const int ld3 = static_cast<int>(C3), ldc = static_cast<int>(C), ldt = static_cast<int>(T);
        const float* Qi = Qh + q0 * C3;
        const float* dOi = dOh + q0 * C;

        // S = scale Q_i K^T and dP = dO_i V^T, both [rows, kv_end].
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, H, scale, Qi, ld3, Kh, ld3, 0.0f, P, ldt);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, H, 1.0f, dOi, ldc, Vh, ld3, 0.0f, dS, ldt);

        for (i64 r = 0; r < rows; ++r) {
          float* p = P + r * T;
          float* ds = dS + r * T;
          const i64 t = q0 + r;
          const i64 n = t + 1;
          softmax_grad_row(p, ds, n, lse_h[t], D[t]);
          std::fill(p + n, p + kv_end, 0.0f);
          std::fill(ds + n, ds + kv_end, 0.0f);
        }

        // dV[0:kv_end] += P^T dO_i        [kv_end, hs]
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, H, M, 1.0f, P, ldt, dOi, ldc, 1.0f, dVh, ld3);
        // dQ_i = scale dS K[0:kv_end]     [rows, hs]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, H, N, scale, dS, ldt, Kh, ld3, 0.0f, dQh + q0 * C3,
                    ld3);
        // dK[0:kv_end] += scale dS^T Q_i  [kv_end, hs]
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, H, M, scale, dS, ldt, Qi, ld3, 1.0f, dKh, ld3);
      }
    }
  }
}

void attention_decode(float* out, const float* q, const float* k, const float* v, i64 B, i64 Tmax, i64 len, i64 C,
                      i64 NH) {
  check_shapes(B, Tmax, C, NH);
  POUCH_CHECK(len > 0 && len <= Tmax, "len={} outside [1, Tmax={}]", len, Tmax);
  const i64 hs = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  const i64 n_bh = B * NH;

  // A decode step is small (2*B*NH*len*hs multiply-adds); a team only pays
  // off for long caches or big batches.
#pragma omp parallel for schedule(static) if (n_bh * len * hs >= kParallelMinWork)
  for (i64 bh = 0; bh < n_bh; ++bh) {
    const i64 b = bh / NH, h = bh % NH;
    const float* qh = q + b * C + h * hs;         // [hs]
    const float* kh = k + b * Tmax * C + h * hs;  // [len, hs], ld C
    const float* vh = v + b * Tmax * C + h * hs;  // [len, hs], ld C
    float* oh = out + b * C + h * hs;             // [hs]
    float* s = thread_scratch(len);               // [len]

    for (i64 j = 0; j < len; ++j) s[j] = scale * dot(qh, kh + j * C, hs);
    const float m = row_max(s, len);
    const float inv_sum = 1.0f / exp_shift_sum(s, len, m);
    std::fill(oh, oh + hs, 0.0f);
    for (i64 j = 0; j < len; ++j) {
      const float pj = s[j];
      const float* vj = vh + j * C;
      for (i64 d = 0; d < hs; ++d) oh[d] += pj * vj[d];
    }
    for (i64 d = 0; d < hs; ++d) oh[d] *= inv_sum;
  }
}

}  // namespace pouch::cpu
