#pragma once
// Small helpers shared by the CPU kernels: the size below which a loop stays
// on one thread (a parallel region costs a few microseconds), and AVX2 forms
// of exp and horizontal reductions. Every kernel that uses them also has a
// scalar path for builds without POUCH_HAVE_AVX2.
#include <cstdint>
#include <limits>

#if POUCH_HAVE_AVX2
#include <immintrin.h>
#endif

namespace pouch::cpu {

// Elements of work under which a kernel does not open a parallel region.
inline constexpr std::int64_t kParallelMinWork = 1 << 15;

#if POUCH_HAVE_AVX2

// exp(x) for 8 floats, Cephes' expf: x = n ln2 + r with |r| <= ln2/2, exp(r)
// by a polynomial, 2^n built in the exponent bits (as 2^(n/2) 2^(n-n/2) so
// n = 128 does not overflow the exponent field). About 1 ulp on
// [-87.3, 88.7]; below -87.3 (where expf leaves the normal range) the result
// is 0, above ln(FLT_MAX) it is +inf; NaN in gives NaN out.
inline __m256 exp256_ps(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.72283935546875f);
  const __m256 lo = _mm256_set1_ps(-87.33654475f);
  // MAXPS/MINPS return the second operand when either is NaN, so x goes second.
  __m256 xc = _mm256_min_ps(hi, _mm256_max_ps(lo, x));
  __m256 fx = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // r = x - n*ln2 with ln2 split in two so n*ln2_hi is exact.
  __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
  __m256 r2 = _mm256_mul_ps(r, r);
  y = _mm256_fmadd_ps(y, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i n = _mm256_cvtps_epi32(fx);
  const __m256i n1 = _mm256_srai_epi32(n, 1);
  const __m256i n2 = _mm256_sub_epi32(n, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  __m256 result = _mm256_mul_ps(_mm256_mul_ps(y, p1), p2);
  result = _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), result);
  return _mm256_blendv_ps(result, _mm256_set1_ps(std::numeric_limits<float>::infinity()),
                          _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
}

inline float hsum256_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax256_ps(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

#endif  // POUCH_HAVE_AVX2

}  // namespace pouch::cpu
