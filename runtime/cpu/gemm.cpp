#include "runtime/cpu/gemm.h"

#include <cblas.h>

#include <climits>

#include "runtime/error.h"

namespace pouch::cpu {

void sgemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const float* A,
           const float* B, float beta, float* C) {
  POUCH_CHECK(M >= 0 && N >= 0 && K >= 0 && M <= INT_MAX && N <= INT_MAX && K <= INT_MAX,
              "sgemm: sizes M={} N={} K={} out of BLAS int range", M, N, K);
  if (M == 0 || N == 0) return;
  if (K == 0) {
    // An empty product: BLAS wants leading dimensions >= 1 here, so do it by hand.
    for (std::int64_t i = 0; i < M * N; ++i) C[i] = beta == 0.0f ? 0.0f : beta * C[i];
    return;
  }
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha,
              A, trans_a ? m : k, B, trans_b ? k : n, beta, C, n);
}

}  // namespace pouch::cpu
