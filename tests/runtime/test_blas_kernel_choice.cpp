// The choice of OpenBLAS kernel set: a SSE-only fallback on a CPU with wider
// vectors is replaced by the widest set the CPU runs; any other choice
// stands. (That `pouch` re-executes itself with it: cli.blas_kernels.)
#include <gtest/gtest.h>

#include "runtime/cpu/blas_kernel_choice.h"

namespace pouch::cpu {
namespace {

constexpr CpuVectorFeatures kSse{}, kAvx2{true, false, false}, kAvx512{true, true, false}, kBf16{true, true, true};

TEST(BlasKernelChoice, PrescottFallbackGetsTheWidestSetTheCpuRuns) {
  EXPECT_EQ(better_blas_kernel("Prescott", kBf16), "Cooperlake");
  EXPECT_EQ(better_blas_kernel("Prescott", kAvx512), "SkylakeX");
  EXPECT_EQ(better_blas_kernel("Prescott", kAvx2), "Haswell");
  EXPECT_EQ(better_blas_kernel("Nehalem", kAvx2), "Haswell");
}

TEST(BlasKernelChoice, ChoicesWithAvxStand) {
  for (const char* k : {"Haswell", "SkylakeX", "Cooperlake", "Zen", "SapphireRapids", "Sandybridge"})
    EXPECT_EQ(better_blas_kernel(k, kBf16), "") << k;
}

TEST(BlasKernelChoice, SseOnlyCpuKeepsTheFallback) { EXPECT_EQ(better_blas_kernel("Prescott", kSse), ""); }

TEST(BlasKernelChoice, TheLoadedLibraryNamesItsKernels) { EXPECT_FALSE(blas_kernel_name().empty()); }

}  // namespace
}  // namespace pouch::cpu
