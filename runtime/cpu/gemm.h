#pragma once
// Single-precision GEMM on row-major, contiguous matrices (a thin wrapper over
// OpenBLAS's cblas_sgemm, the OpenMP build, so it shares our thread pool).
#include <cstdint>

namespace pouch::cpu {

// C[M,N] = alpha * op(A) * op(B) + beta * C.
// A is [M,K] ([K,M] when trans_a), B is [K,N] ([N,K] when trans_b).
// beta == 0 never reads C (it may hold garbage or NaN).
void sgemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const float* A,
           const float* B, float beta, float* C);

}  // namespace pouch::cpu
