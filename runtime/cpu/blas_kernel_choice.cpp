#include "runtime/cpu/blas_kernel_choice.h"

#include <cblas.h>

#include <array>
#include <cstdlib>

namespace pouch::cpu {

CpuVectorFeatures detect_cpu_vector_features() {
  CpuVectorFeatures f;
#if defined(__x86_64__)
  __builtin_cpu_init();
  f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  f.avx512_bf16 = f.avx512 && __builtin_cpu_supports("avx512bf16");
#endif
  return f;
}

std::string blas_kernel_name() {
  const char* name = openblas_get_corename();
  return name != nullptr ? name : "";
}

std::string better_blas_kernel(std::string_view chosen, const CpuVectorFeatures& cpu) {
  // OpenBLAS's x86-64 kernel sets without AVX: what DYNAMIC_ARCH falls back to
  // for a CPU model it does not know (Prescott first of all).
  constexpr std::array<std::string_view, 9> kSseOnly = {"Prescott", "Core2",   "Penryn",    "Dunnington", "Nehalem",
                                                        "Atom",     "Opteron", "Barcelona", "Nano"};
  bool fallback = false;
  for (std::string_view s : kSseOnly) fallback = fallback || chosen == s;
  if (!fallback) return "";
  if (cpu.avx512_bf16) return "Cooperlake";
  if (cpu.avx512) return "SkylakeX";
  if (cpu.avx2_fma) return "Haswell";
  return "";
}

std::string blas_kernel_summary() {
  std::string s = "OpenBLAS " + blas_kernel_name() + " kernels";
  if (const char* from = std::getenv(kBlasFallbackEnv); from != nullptr && *from != '\0')
    s += std::string(" (OpenBLAS had fallen back to ") + from +
         " for this CPU; OPENBLAS_CORETYPE set by pouch, set it yourself to choose)";
  else if (std::getenv("OPENBLAS_CORETYPE") != nullptr)
    s += " (OPENBLAS_CORETYPE)";
  return s;
}

}  // namespace pouch::cpu
