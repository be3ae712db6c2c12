#pragma once
// The GPT decoder (GPT-2 / nanoGPT math, identical to the PyTorch peer):
//   x0 = wte[ids] + wpe[pos];  x_{i+1} = block_i(x_i);  logits = lnf(x_L) wte^T
//   loss = mean over all B*T targets of cross-entropy(logits, target)
// Forward and backward are explicit; activations live in per-block
// workspaces, or in one shared workspace when activation checkpointing
// (recompute) is on, in which case backward re-runs each block's forward.
//
// Tensor parallelism (Megatron-LM): the vocabulary is padded to a multiple
// of tp and wte split by rows (VocabParallelEmbedding, and the tied LM head
// gives each rank its slice of the logits, reduced by the vocab-parallel
// cross-entropy); attention splits whole heads, the MLP its hidden width;
// LayerNorms, wpe and row-parallel biases are replicated and stay identical
// because every rank computes their gradients from the same full tensors.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/block.h"
#include "model/gpt_config.h"
#include "model/tensor_parallel.h"
#include "model/vocab_parallel_embedding.h"

namespace pouch {

struct KVCache {
  std::vector<LayerKV> layers;  // per layer, k and v [B, Tmax, C / tp]
  std::int64_t batch = 0, capacity = 0;
};

class GPT {
 public:
  GPT(const GPTConfig& cfg, Backend& backend, TensorParallelGroup tp = {});

  const GPTConfig& config() const { return cfg_; }
  Backend& backend() const { return be_; }
  const TensorParallelGroup& tensor_parallel() const { return tp_; }
  ParameterStore& parameters() { return params_; }
  const ParameterStore& parameters() const { return params_; }
  // Vocabulary rows this rank holds (padded share) and the first one's id.
  std::int64_t local_vocab() const { return wte_->local_vocab(); }
  std::int64_t vocab_start() const { return wte_->vocab_start(); }

  // N(0, 0.02) for matrices and embeddings, zero biases, LayerNorm weight 1.
  // Each parameter's full tensor draws from its own Philox stream (seed,
  // hash(name)) and each rank keeps its shard, so the model is the same
  // whatever the order of declaration or the tensor-parallel degree.
  void init_weights(std::uint64_t seed);
  // Copies full (logical) named tensors into the parameters, each rank its
  // shard. Every parameter must be present with its full shape; `source`
  // names the origin in error messages.
  void load_named(const std::vector<std::pair<std::string, Tensor>>& named, const std::string& source);
  // The full tensors of every parameter. Under tensor parallelism this is a
  // collective (all ranks of the group must call it) and returns copies.
  std::vector<std::pair<std::string, Tensor>> named_values() const;

  // Activation checkpointing: keep only block inputs, recompute in backward.
  void set_recompute(bool on);
  bool recompute() const { return recompute_; }

  // Called during backward() with each parameter once its gradient is final
  // (lnf first, then blocks from the last, then wpe and wte), so a
  // data-parallel reducer can start reducing while backward goes on.
  using GradReadyHook = std::function<void(const Parameter&)>;
  void set_grad_ready_hook(GradReadyHook hook) { grad_ready_ = std::move(hook); }

  // tokens, targets [B, T] int32 (targets < 0 are ignored). Returns the mean
  // loss over the targets. When dloss > 0, also prepares backward with
  // dL/dlogits scaled so that each target contributes dloss (for a plain mean
  // over one micro-batch of M targets pass 1/M; with gradient accumulation
  // over k micro-batches pass 1/(k*M)).
  double forward(const Tensor& tokens, const Tensor& targets, float dloss = 0.0f);
  // Sum of the per-target losses of the last forward with targets, and how
  // many targets were counted (for means over data-parallel ranks).
  double last_loss_sum() const { return last_loss_sum_; }
  std::int64_t last_loss_count() const { return last_loss_count_; }
  // Accumulates parameter gradients (+=) for the last forward(…, dloss > 0).
  void backward();
  // L2 norm of the whole model's gradient: shards summed over the
  // tensor-parallel group (a collective), replicated parameters counted once.
  double grad_norm() const;
  // Logits of the last forward, [B, T, V / tp] (this rank's vocabulary slice;
  // consumed by backward).
  const Tensor& logits() const { return logits_; }

  // Incremental decoding with a KV cache.
  KVCache make_cache(std::int64_t batch, std::int64_t capacity) const;
  // tokens [B] at position `pos` of each sequence -> full logits [B, V].
  void decode_step(const Tensor& tokens, std::int64_t pos, KVCache& cache, const Tensor& logits);

  // Model FLOPs of one training step (fwd+bwd) per token at context T, for
  // the whole model (all ranks): 6 * (matmul parameters) + 6 * L * T * C for
  // causal attention (QK^T and PV, half of the T x T scores, forward plus
  // twice that backward).
  double train_flops_per_token(std::int64_t T) const;

 private:
  void ensure_buffers(std::int64_t B, std::int64_t T);
  BlockActivations& acts_for(std::size_t layer) { return recompute_ ? shared_acts_ : block_acts_[layer]; }
  void notify_ready(const Parameter* p) const {
    if (grad_ready_) grad_ready_(*p);
  }
  void block_ready(std::size_t layer) const;
  double loss_and_dlogits(const Tensor& targets, float dloss);

  GPTConfig cfg_;
  Backend& be_;
  TensorParallelGroup tp_;
  ParameterStore params_;
  std::unique_ptr<VocabParallelEmbedding> wte_;  // token embedding and tied LM head
  Parameter* wpe_;  // [T, C]
  std::vector<std::unique_ptr<Block>> blocks_;
  std::vector<std::pair<std::size_t, std::size_t>> block_params_;  // [first, last) index per block
  std::unique_ptr<LayerNorm> lnf_;
  GradReadyHook grad_ready_;

  bool recompute_ = false;
  std::int64_t B_ = 0, T_ = 0;
  Tensor tokens_, positions_;          // [B*T] int32 copies of the last batch
  std::vector<Tensor> residual_;       // L+1 tensors [B, T, C]: block inputs and final output
  std::vector<BlockActivations> block_acts_;
  BlockActivations shared_acts_;
  BlockGradScratch grad_scratch_;
  Tensor lnf_out_, lnf_mean_, lnf_rstd_;  // [B, T, C], [N], [N]
  Tensor logits_;                          // [B, T, Vl]; dlogits in place after forward(…, dloss > 0)
  Tensor losses_, row_max_, ce_stats_;     // [N], [N], [2, N]
  Tensor d_lnf_, d_res_;                   // [B, T, C]
  bool backward_ready_ = false;
  double last_loss_sum_ = 0.0;
  std::int64_t last_loss_count_ = 0;

  DecodeScratch decode_scratch_;
  Tensor decode_x_, decode_pos_, decode_lnf_, decode_local_logits_, decode_gathered_;
};

}  // namespace pouch
