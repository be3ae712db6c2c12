#pragma once
// Which of OpenBLAS's kernel sets this process runs, and a better one when
// OpenBLAS fell back to an old one.
//
// Why: OpenBLAS built with DYNAMIC_ARCH (Debian's 0.3.21) picks its kernels
// by CPU model once, when the library loads. For a model newer than the
// library (Intel family 6 model 0xCF, Emerald Rapids; AMD Zen 5) it falls
// back to Prescott's SSE3 kernels: sgemm at 33 GFLOP/s on 2 cores where the
// same library's Cooperlake kernels reach 298 (measured with `pouch bench
// sgemm`), a 9x slower training step. The environment variable
// OPENBLAS_CORETYPE names the kernel set to use; it is read at load time, so
// `pouch` sets it and re-executes itself once at start (launcher/main.cpp),
// before MPI or any thread exists. A user's own OPENBLAS_CORETYPE always
// stands.
#include <string>
#include <string_view>

namespace pouch::cpu {

// The vector extensions that decide OpenBLAS's x86 kernel sets.
struct CpuVectorFeatures {
  bool avx2_fma = false;     // Haswell kernels
  bool avx512 = false;       // F, BW, DQ and VL: SkylakeX kernels
  bool avx512_bf16 = false;  // with avx512: Cooperlake kernels
};

CpuVectorFeatures detect_cpu_vector_features();

// The kernel set the loaded OpenBLAS runs (openblas_get_corename()).
std::string blas_kernel_name();

// The kernel set to ask OpenBLAS for instead of `chosen`, or "" when
// `chosen` stands: it is not one of the SSE-only sets OpenBLAS falls back to,
// or the CPU has nothing wider.
std::string better_blas_kernel(std::string_view chosen, const CpuVectorFeatures& cpu);

// One line for logs and `pouch info`: the kernel set running and, after a
// re-execution, the fallback it replaced.
std::string blas_kernel_summary();

// Set in the environment of the re-executed process: the kernel set OpenBLAS
// had fallen back to, for the log line and `pouch info`.
inline constexpr const char* kBlasFallbackEnv = "POUCH_BLAS_FALLBACK_FROM";

}  // namespace pouch::cpu
