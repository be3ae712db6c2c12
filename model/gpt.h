#pragma once
// The GPT decoder (GPT-2 / nanoGPT math, identical to the PyTorch peer):
//   x0 = wte[ids] + wpe[pos];  x_{i+1} = block_i(x_i);  logits = lnf(x_L) wte^T
//   loss = mean over all B*T targets of cross-entropy(logits, target)
// Forward and backward are explicit; activations live in per-block
// workspaces, or in one shared workspace when activation checkpointing
// (recompute) is on, in which case backward re-runs each block's forward.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/block.h"
#include "model/gpt_config.h"

namespace pouch {

struct KVCache {
  std::vector<LayerKV> layers;  // per layer, k and v [B, Tmax, C]
  std::int64_t batch = 0, capacity = 0;
};

class GPT {
 public:
  GPT(const GPTConfig& cfg, Backend& backend);

  const GPTConfig& config() const { return cfg_; }
  Backend& backend() const { return be_; }
  ParameterStore& parameters() { return params_; }
  const ParameterStore& parameters() const { return params_; }

  // N(0, 0.02) for matrices and embeddings, zero biases, LayerNorm weight 1.
  // Each parameter draws from its own Philox stream (seed, hash(name)), so the
  // result does not depend on declaration order.
  void init_weights(std::uint64_t seed);
  // Copies named tensors into the parameters. Every parameter must be present
  // with the right shape; `source` names the origin in error messages.
  void load_named(const std::vector<std::pair<std::string, Tensor>>& named, const std::string& source);
  std::vector<std::pair<std::string, Tensor>> named_values() const;

  // Activation checkpointing: keep only block inputs, recompute in backward.
  void set_recompute(bool on);
  bool recompute() const { return recompute_; }

  // tokens, targets [B, T] int32 (targets < 0 are ignored). Returns the mean
  // loss over the targets. When dloss > 0, also prepares backward with
  // dL/dlogits scaled so that each target contributes dloss (for a plain mean
  // over one micro-batch of M targets pass 1/M; with gradient accumulation
  // over k micro-batches pass 1/(k*M)).
  double forward(const Tensor& tokens, const Tensor& targets, float dloss = 0.0f);
  // Accumulates parameter gradients (+=) for the last forward(…, dloss > 0).
  void backward();
  // Logits [B, T, V] of the last forward (consumed by backward).
  const Tensor& logits() const { return logits_; }

  // Incremental decoding with a KV cache.
  KVCache make_cache(std::int64_t batch, std::int64_t capacity) const;
  // tokens [B] at position `pos` of each sequence -> logits [B, V].
  void decode_step(const Tensor& tokens, std::int64_t pos, KVCache& cache, const Tensor& logits);

  // Model FLOPs of one training step (fwd+bwd) per token at context T:
  // 6 * (matmul parameters) + 6 * L * T * C for causal attention (QK^T and PV,
  // half of the T x T scores, forward plus twice that backward).
  double train_flops_per_token(std::int64_t T) const;

 private:
  void ensure_buffers(std::int64_t B, std::int64_t T);
  BlockActivations& acts_for(std::size_t layer) { return recompute_ ? shared_acts_ : block_acts_[layer]; }

  GPTConfig cfg_;
  Backend& be_;
  ParameterStore params_;
  Parameter* wte_;  // [V, C], also the LM head
  Parameter* wpe_;  // [T, C]
  std::vector<std::unique_ptr<Block>> blocks_;
  std::unique_ptr<LayerNorm> lnf_;

  bool recompute_ = false;
  std::int64_t B_ = 0, T_ = 0;
  Tensor tokens_, positions_;          // [B*T] int32 copies of the last batch
  std::vector<Tensor> residual_;       // L+1 tensors [B, T, C]: block inputs and final output
  std::vector<BlockActivations> block_acts_;
  BlockActivations shared_acts_;
  BlockGradScratch grad_scratch_;
  Tensor lnf_out_, lnf_mean_, lnf_rstd_;  // [B, T, C], [N], [N]
  Tensor logits_;                          // [B, T, V]; dlogits in place after forward(…, dloss > 0)
  Tensor losses_;                          // [N]
  Tensor d_lnf_, d_res_;                   // [B, T, C]
  bool backward_ready_ = false;

  DecodeScratch decode_scratch_;
  Tensor decode_x_, decode_pos_, decode_lnf_;
};

}  // namespace pouch
