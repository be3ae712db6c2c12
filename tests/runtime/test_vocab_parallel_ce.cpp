// Vocab-parallel cross-entropy: splitting the vocabulary over simulated ranks
// (with padding), reducing the partial statistics as the collectives would,
// must give the fused single-rank kernel's losses and gradients.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "runtime/backend.h"
#include "runtime/rng.h"

namespace pouch {
namespace {

void check_split(std::int64_t N, std::int64_t V, int ranks) {
  auto be = make_backend(Device::CPU);
  const std::int64_t Vl = (V + ranks - 1) / ranks;  // padded shard width
  Tensor logits = Tensor::empty({N, V}), targets = Tensor::empty({N}, DType::I32);
  RngStream rng(V, N);
  for (std::int64_t i = 0; i < N * V; ++i) logits.f32()[i] = 3.0f * rng.normal();
  for (std::int64_t n = 0; n < N; ++n) targets.i32()[n] = n % 5 == 4 ? -1 : static_cast<std::int32_t>(rng.below(V));

  Tensor ref_loss = Tensor::empty({N}), ref_grad = Tensor::empty({N, V});
  be->cross_entropy_forward_backward(ref_loss, ref_grad, logits, targets, 0.25f);

  std::vector<Tensor> shards;
  std::vector<std::int64_t> valid;
  for (int r = 0; r < ranks; ++r) {
    Tensor s = Tensor::empty({N, Vl});
    const std::int64_t start = r * Vl, real = std::clamp<std::int64_t>(V - start, 0, Vl);
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t j = 0; j < Vl; ++j)
        s.f32()[n * Vl + j] = j < real ? logits.f32()[n * V + start + j] : 1e30f;  // padding must be ignored
    shards.push_back(s);
    valid.push_back(real);
  }
  // Step 1 and its all-reduce MAX.
  Tensor gmax = Tensor::empty({N});
  gmax.fill_(-std::numeric_limits<float>::infinity());
  for (int r = 0; r < ranks; ++r) {
    Tensor m = Tensor::empty({N});
    be->vocab_parallel_ce_max(m, shards[r], valid[r]);
    for (std::int64_t n = 0; n < N; ++n) gmax.f32()[n] = std::max(gmax.f32()[n], m.f32()[n]);
  }
  // Step 2 and its all-reduce SUM.
  Tensor gstats = Tensor::zeros({2, N});
  for (int r = 0; r < ranks; ++r) {
    Tensor st = Tensor::empty({2, N});
    be->vocab_parallel_ce_stats(st, shards[r], gmax, targets, r * Vl, valid[r]);
    for (std::int64_t i = 0; i < 2 * N; ++i) gstats.f32()[i] += st.f32()[i];
  }
  for (int r = 0; r < ranks; ++r) {
    Tensor loss = Tensor::empty({N});
    be->vocab_parallel_ce_finish(loss, shards[r], shards[r], gmax, gstats, targets, r * Vl, valid[r], 0.25f);
    for (std::int64_t n = 0; n < N; ++n) {
      EXPECT_NEAR(loss.f32()[n], ref_loss.f32()[n], 1e-5f * (1.0f + std::fabs(ref_loss.f32()[n]))) << "row " << n;
      for (std::int64_t j = 0; j < Vl; ++j) {
        const float got = shards[r].f32()[n * Vl + j];
        if (j >= valid[r]) {
          EXPECT_EQ(got, 0.0f) << "padding column got a gradient";
        } else {
          EXPECT_NEAR(got, ref_grad.f32()[n * V + r * Vl + j], 1e-6f) << "row " << n << " col " << r * Vl + j;
        }
      }
    }
  }
}

TEST(VocabParallelCE, MatchesFusedKernelOverRanksWithPadding) {
  check_split(7, 211, 2);
  check_split(5, 211, 4);
  check_split(3, 13, 3);
  check_split(4, 10, 1);
}

TEST(VocabParallelCE, RankWithOnlyPaddingContributesNothing) {
  // V = 5 over 4 ranks of width 2: rank 3 holds only padding.
  check_split(6, 5, 4);
}

}  // namespace
}  // namespace pouch
