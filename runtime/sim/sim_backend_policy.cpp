// SimBackend's ops of the policy losses, the masked loss sum and EWC: each
// queues the CPU backend's op on the compute stream (SimBackend::launch).
#include "runtime/sim/sim_backend.h"

namespace pouch {

using T = const Tensor&;

void SimBackend::cross_entropy_row_weighted(T losses, T dlogits, T logits, T targets, T row_weights) {
  launch(
      "cross_entropy_row_weighted", [this](T l, T d, T x, T t, T w) { cpu_.cross_entropy_row_weighted(l, d, x, t, w); },
      losses, dlogits, logits, targets, row_weights);
}

void SimBackend::vocab_parallel_ce_finish_row_weighted(T losses, T dlogits, T logits, T row_max, T stats, T targets,
                                                       long vocab_start, long valid, T row_weights) {
  launch(
      "vocab_parallel_ce_finish_row_weighted",
      [this, vocab_start, valid](T l, T d, T x, T m, T s, T t, T w) {
        cpu_.vocab_parallel_ce_finish_row_weighted(l, d, x, m, s, t, vocab_start, valid, w);
      },
      losses, dlogits, logits, row_max, stats, targets, row_weights);
}

void SimBackend::softmax_entropy_stats(T stats, T logits, T row_max, long valid) {
  launch(
      "softmax_entropy_stats", [this, valid](T s, T x, T m) { cpu_.softmax_entropy_stats(s, x, m, valid); }, stats,
      logits, row_max);
}

void SimBackend::softmax_entropy_finish(T entropy, T stats) {
  launch(
      "softmax_entropy_finish", [this](T e, T s) { cpu_.softmax_entropy_finish(e, s); }, entropy, stats);
}

void SimBackend::masked_loss_sum(T losses, T targets, T out) {
  launch(
      "masked_loss_sum", [this](T l, T t, T o) { cpu_.masked_loss_sum(l, t, o); }, losses, targets, out);
}

void SimBackend::ewc_fisher_accumulate(T fisher, T grads, double weight) {
  launch(
      "ewc_fisher_accumulate", [this, weight](T f, T g) { cpu_.ewc_fisher_accumulate(f, g, weight); }, fisher, grads);
}

void SimBackend::ewc_penalty_gradient(T grads, T values, T anchor, T fisher, float lambda) {
  launch(
      "ewc_penalty_gradient", [this, lambda](T g, T v, T a, T f) { cpu_.ewc_penalty_gradient(g, v, a, f, lambda); },
      grads, values, anchor, fisher);
}

void SimBackend::ewc_penalty_sum(T out, T values, T anchor, T fisher) {
  launch(
      "ewc_penalty_sum", [this](T o, T v, T a, T f) { cpu_.ewc_penalty_sum(o, v, a, f); }, out, values, anchor, fisher);
}

}  // namespace pouch
