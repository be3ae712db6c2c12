#pragma once
// The token embedding wte [V, C], split by vocabulary rows over the
// tensor-parallel group (Megatron-LM's VocabParallelEmbedding), and the LM
// head tied to it. The vocabulary is padded to a multiple of tp; rank r holds
// rows [r*Vl, (r+1)*Vl) of the padded table, Vl = ceil(V / tp), and the
// padding rows stay zero: no id looks them up and the cross-entropy gives
// their logits no probability, so they get no gradient either.
//   embedding:  each rank looks up the ids in its slice (zero rows for the
//               others); the sum over the group is the full embedding.
//   LM head:    logits_r = x wte_r^T, this rank's slice of the vocabulary;
//               full logits never exist on one rank.
//   loss:       vocab-parallel cross-entropy (runtime/cpu/vocab_parallel_ce.h):
//               an all-reduce of the row maximum, then one of the sums of
//               exponentials and target logits together.
#include <string>

#include "model/tensor_parallel.h"
#include "runtime/parameter_store.h"

namespace pouch {

class VocabParallelEmbedding {
 public:
  VocabParallelEmbedding(ParameterStore& store, const std::string& name, std::int64_t vocab, std::int64_t channels,
                         const TensorParallelGroup& tp);

  std::int64_t vocab() const { return vocab_; }
  std::int64_t local_vocab() const { return weight_->shape[0]; }
  std::int64_t vocab_start() const { return tp_.rank() * local_vocab(); }
  // Real (unpadded) rows of this rank's slice.
  std::int64_t valid_rows() const;
  Parameter* weight() const { return weight_; }
  // Frozen: no gradient for wte (embedding or LM head); dx still flows.
  void set_frozen(bool frozen) { frozen_ = frozen; }

  // out [N, C] "=" wte[ids], ids [N] int32.
  void embed(Backend& be, const Tensor& out, const Tensor& ids) const;
  // wte_r += the rows of dout [N, C] whose ids fall in this rank's slice.
  void embed_backward(Backend& be, const Tensor& dout, const Tensor& ids) const;

  // logits [N, Vl] = x [N, C] wte_r^T.
  void logits(Backend& be, const Tensor& logits, const Tensor& x) const;
  // dx [N, C] "=" sum over ranks of dlogits_r wte_r; wte_r += dlogits_r^T x.
  void logits_backward(Backend& be, const Tensor& dx, const Tensor& dlogits, const Tensor& x) const;
  // Full logits [B, V] from each rank's [B, Vl] (a gather; for decoding).
  // `gathered` is scratch of tp * B * Vl floats.
  void gather_logits(Backend& be, const Tensor& full, const Tensor& local, const Tensor& gathered) const;

  // losses [N] and (when dlogits is defined, may alias logits) dlogits
  // [N, Vl] scaled by grad_scale; targets < 0 ignored. row_max [N] and
  // stats [2, N] are scratch.
  void cross_entropy(Backend& be, const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                     const Tensor& targets, float grad_scale, const Tensor& row_max, const Tensor& stats) const;
  // As cross_entropy, but row n of dlogits is scaled by weights[n] ([N] f32)
  // instead of one grad_scale. Each row goes through the same kernel as
  // cross_entropy with grad_scale = weights[n], so equal weights give
  // bitwise the gradients of cross_entropy. (One kernel call per row: a
  // per-row-scale backend op would batch them; the vocabulary reductions are
  // still batched.)
  void cross_entropy_weighted(Backend& be, const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                              const Tensor& targets, const Tensor& weights, const Tensor& row_max,
                              const Tensor& stats) const;
  // entropy [N] = H(softmax(logits row)) over the full (unpadded) vocabulary:
  //   with m = max_i l_i, e_i = exp(l_i - m), S = sum_i e_i:
  //   H = -sum_i p_i log p_i = log S - (sum_i e_i (l_i - m)) / S.
  // Under tensor parallelism m is all-reduced (MAX), then S and the weighted
  // sum together (SUM), as the vocab-parallel cross-entropy does. Reads
  // logits only; row_max [N] and stats [2, N] are scratch.
  void entropy(Backend& be, const Tensor& entropy, const Tensor& logits, const Tensor& row_max,
               const Tensor& stats) const;

 private:
  bool frozen_ = false;
  std::int64_t vocab_;
  TensorParallelGroup tp_;
  Parameter* weight_;
};

}  // namespace pouch
