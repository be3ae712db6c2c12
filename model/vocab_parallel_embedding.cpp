#include "model/vocab_parallel_embedding.h"

#include <algorithm>
#include <cmath>

namespace pouch {

VocabParallelEmbedding::VocabParallelEmbedding(ParameterStore& store, const std::string& name, std::int64_t vocab,
                                               std::int64_t channels, const TensorParallelGroup& tp)
    : vocab_(vocab), tp_(tp) {
  const std::int64_t ranks = tp.size();
  const std::int64_t padded = (vocab + ranks - 1) / ranks * ranks;
  weight_ = store.add(name, {vocab, channels}, tp.rows(1, padded));
}

std::int64_t VocabParallelEmbedding::valid_rows() const {
  return std::clamp<std::int64_t>(vocab_ - vocab_start(), 0, local_vocab());
}

void VocabParallelEmbedding::embed(Backend& be, const Tensor& out, const Tensor& ids) const {
  be.embedding_forward(out, ids, weight_->value, static_cast<long>(vocab_start()), false);
  tp_.all_reduce_sum(out);
}

void VocabParallelEmbedding::embed_backward(Backend& be, const Tensor& dout, const Tensor& ids) const {
  if (!frozen_) be.embedding_backward(weight_->grad, dout, ids, static_cast<long>(vocab_start()));
}

void VocabParallelEmbedding::logits(Backend& be, const Tensor& logits, const Tensor& x) const {
  be.linear_forward(logits, x, weight_->value, Tensor());
}

void VocabParallelEmbedding::logits_backward(Backend& be, const Tensor& dx, const Tensor& dlogits,
                                             const Tensor& x) const {
  // As ColumnParallelLinear::backward: dx, its all-reduce issued, dW while it runs.
  be.linear_backward(dx, Tensor(), Tensor(), dlogits, x, weight_->value);
  const WorkHandle reduce = tp_.all_reduce_sum_async(dx);
  if (!frozen_) be.linear_backward(Tensor(), weight_->grad, Tensor(), dlogits, x, weight_->value);
  if (reduce) reduce->wait();
}

void VocabParallelEmbedding::gather_logits(Backend& be, const Tensor& full, const Tensor& local,
                                           const Tensor& gathered) const {
  const std::int64_t B = local.dim(0), Vl = local_vocab();
  if (tp_.size() == 1) {
    be.copy(full, local);
    return;
  }
  tp_.communicator()->all_gather(gathered, local.reshape({B * Vl}));
  // Rank r's block [B, Vl] holds columns [r Vl, r Vl + n) of full [B, V]
  // (n < Vl only for the last rank's padding).
  for (int r = 0; r < tp_.size(); ++r) {
    const std::int64_t start = r * Vl, n = std::clamp<std::int64_t>(vocab_ - start, 0, Vl);
    if (n == 0) continue;
    be.copy_2d(full.view(start, {full.numel() - start}), vocab_, gathered.view(r * B * Vl, {B * Vl}), Vl, B, n);
  }
}

void VocabParallelEmbedding::cross_entropy(Backend& be, const Tensor& losses, const Tensor& dlogits,
                                           const Tensor& logits, const Tensor& targets, float grad_scale,
                                           const Tensor& row_max, const Tensor& stats) const {
  if (tp_.size() == 1) {
    be.cross_entropy_forward_backward(losses, dlogits, logits, targets, grad_scale);
    return;
  }
  const long start = static_cast<long>(vocab_start()), valid = static_cast<long>(valid_rows());
  be.vocab_parallel_ce_max(row_max, logits, valid);
  tp_.all_reduce_max(row_max);
  be.vocab_parallel_ce_stats(stats, logits, row_max, targets, start, valid);
  tp_.all_reduce_sum(stats);
  be.vocab_parallel_ce_finish(losses, dlogits, logits, row_max, stats, targets, start, valid, grad_scale);
}

void VocabParallelEmbedding::cross_entropy_weighted(Backend& be, const Tensor& losses, const Tensor& dlogits,
                                                    const Tensor& logits, const Tensor& targets, const Tensor& weights,
                                                    const Tensor& row_max, const Tensor& stats) const {
  const std::int64_t N = logits.dim(0);
  POUCH_CHECK(weights.numel() == N && weights.dtype() == DType::F32, "weights {} for {} rows",
              shape_str(weights.shape()), N);
  if (tp_.size() == 1) {
    be.cross_entropy_row_weighted(losses, dlogits, logits, targets, weights);
    return;
  }
  const long start = static_cast<long>(vocab_start()), valid = static_cast<long>(valid_rows());
  be.vocab_parallel_ce_max(row_max, logits, valid);
  tp_.all_reduce_max(row_max);
  be.vocab_parallel_ce_stats(stats, logits, row_max, targets, start, valid);
  tp_.all_reduce_sum(stats);
  be.vocab_parallel_ce_finish_row_weighted(losses, dlogits, logits, row_max, stats, targets, start, valid, weights);
}

void VocabParallelEmbedding::entropy(Backend& be, const Tensor& entropy, const Tensor& logits, const Tensor& row_max,
                                     const Tensor& stats) const {
  const std::int64_t Vl = logits.dim(1);
  const std::int64_t valid = tp_.size() == 1 ? Vl : valid_rows();
  be.vocab_parallel_ce_max(row_max, logits, static_cast<long>(valid));
  tp_.all_reduce_max(row_max);
  be.softmax_entropy_stats(stats, logits, row_max, static_cast<long>(valid));
  tp_.all_reduce_sum(stats);
  be.softmax_entropy_finish(entropy, stats);
}

}  // namespace pouch
