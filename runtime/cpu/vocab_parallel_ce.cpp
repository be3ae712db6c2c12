#include "runtime/cpu/vocab_parallel_ce.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/cpu/simd.h"
#include "runtime/cpu/softmax.h"

namespace pouch::cpu {

void vocab_parallel_ce_max(float* maxes, const float* logits, std::int64_t N, std::int64_t V, std::int64_t valid) {
#pragma omp parallel for schedule(static) if (N * V >= kParallelMinWork)
  for (std::int64_t n = 0; n < N; ++n)
    maxes[n] = valid > 0 ? row_max(logits + n * V, valid) : -std::numeric_limits<float>::infinity();
}

void vocab_parallel_ce_stats(float* sum_exp, float* target_logit, const float* logits, const float* row_max,
                             const std::int32_t* targets, std::int64_t N, std::int64_t V, std::int64_t valid,
                             std::int64_t vocab_start) {
#pragma omp parallel for schedule(static) if (N * V >= kParallelMinWork)
  for (std::int64_t n = 0; n < N; ++n) {
    const float* row = logits + n * V;
    sum_exp[n] = valid > 0 ? row_exp_sum(nullptr, row, valid, row_max[n], 1.0f) : 0.0f;
    const std::int64_t local = static_cast<std::int64_t>(targets[n]) - vocab_start;
    target_logit[n] = targets[n] >= 0 && local >= 0 && local < valid ? row[local] : 0.0f;
  }
}

void vocab_parallel_ce_finish(float* losses, float* dlogits, const float* logits, const float* row_max,
                              const float* sum_exp, const float* target_logit, const std::int32_t* targets,
                              std::int64_t N, std::int64_t V, std::int64_t valid, std::int64_t vocab_start,
                              float grad_scale, const float* row_scale) {
#pragma omp parallel for schedule(static) if (N * V >= kParallelMinWork)
  for (std::int64_t n = 0; n < N; ++n) {
    const bool ignored = targets[n] < 0;
    if (losses != nullptr) losses[n] = ignored ? 0.0f : std::log(sum_exp[n]) + row_max[n] - target_logit[n];
    if (dlogits == nullptr) continue;
    float* dr = dlogits + n * V;
    if (ignored) {
      std::memset(dr, 0, static_cast<std::size_t>(V) * sizeof(float));
      continue;
    }
    row_exp_sum(dr, logits + n * V, valid, row_max[n], 1.0f);
    const float g = row_scale != nullptr ? row_scale[n] : grad_scale;
    const float s = g / sum_exp[n];
#pragma omp simd
    for (std::int64_t i = 0; i < valid; ++i) dr[i] *= s;
    for (std::int64_t i = valid; i < V; ++i) dr[i] = 0.0f;
    const std::int64_t local = static_cast<std::int64_t>(targets[n]) - vocab_start;
    if (local >= 0 && local < valid) dr[local] -= g;
  }
}

}  // namespace pouch::cpu
