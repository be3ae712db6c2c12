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
//
// Beyond next-token training (what PPO/GRPO and continual learning need):
//  - forward_weighted: a per-token weight on each target's cross-entropy
//    gradient (the policy-gradient interface), token_losses (-log p(target)),
//    optional per-position entropy;
//  - final_hidden / add_final_hidden_grad / forward_hidden: a head on the
//    shared trunk (model/value_head.h) trains the trunk, or a second GPT is
//    trained as a critic by that head alone;
//  - LoRA adapters (model/lora.h) in their own ParameterStore, a frozen base,
//    merged weights for serving.
//
// Threads: one thread per instance. forward/backward rewrite the
// workspaces, the KV cache and the gradients, and under tensor parallelism
// make collectives in a fixed order on the tp communicator; a GPT's Backend
// is one thread's too (runtime/backend.h). A background checkpoint write
// works on copies of the shards taken on the training thread
// (checkpoint/async_checkpoint_writer.h), never on the model; a server that
// shares one between request threads serializes them with a mutex.
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "model/block.h"
#include "model/gpt_config.h"
#include "model/lora.h"
#include "model/tensor_parallel.h"
#include "model/vocab_parallel_embedding.h"
#include "runtime/precision.h"

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
  // `named` with every tensor on the host: device tensors copied back (one
  // host sync each), host tensors as they are. What file writers take.
  std::vector<std::pair<std::string, Tensor>> on_host(std::vector<std::pair<std::string, Tensor>> named) const;

  // Activation checkpointing: keep only block inputs, recompute in backward.
  void set_recompute(bool on);
  bool recompute() const { return recompute_; }

  // Mixed-precision activation storage (runtime/precision.h): the residual
  // stream between blocks (the embedding output and every block's output,
  // what a GPU keeps in 16 bits and what recompute keeps) is rounded to `p`
  // as it is written, in forward, in recompute and in decode_step. FP32 (the
  // default) changes nothing. The rounding is Backend::round_to_precision,
  // on the compute stream.
  void set_activation_precision(Precision p);
  Precision activation_precision() const { return act_precision_; }
  // The residual stream of the last forward: i < L is block i's input, i = L
  // the last block's output; [B, T, C].
  const Tensor& residual_stream(std::size_t i) const { return residual_.at(i); }

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
  // Reading the mean back is one host sync on a device.
  double forward(const Tensor& tokens, const Tensor& targets, float dloss = 0.0f);
  // As forward, but the loss stays on the device: nothing blocks the host
  // until last_loss_sum/count/mean (or add_loss_sums_to) ask for it.
  void forward_deferred(const Tensor& tokens, const Tensor& targets, float dloss = 0.0f);
  // Sum of the per-target losses of the last forward with targets, and how
  // many targets were counted (for means over data-parallel ranks). The
  // first of them after a forward reads both back (one host sync on a device).
  double last_loss_sum() const;
  std::int64_t last_loss_count() const;
  double last_loss_mean() const;
  // sums [2] F64 on the backend's device += (sum, count) of the last forward
  // with targets, on the device (Backend::masked_loss_sum): a step's loss
  // accumulated over its micro-batches and read once.
  void add_loss_sums_to(const Tensor& sums) const;
  // Accumulates parameter gradients (+=) for the last forward(…, dloss > 0),
  // forward_weighted, or a forward followed by add_final_hidden_grad.
  void backward();
  // L2 norm of the whole model's gradient: shards summed over the
  // tensor-parallel group (a collective), replicated parameters counted once.
  double grad_norm() const;
  // The same norm, read back from the device in one copy together with
  // `with` (F64 scalars on the backend's device, e.g. a step's loss sums),
  // which land in `with_host` (its size = with.numel()): a step's one host
  // sync for both.
  double grad_norm(const Tensor& with, std::span<double> with_host) const;
  // Logits of the last forward, [B, T, V / tp] (this rank's vocabulary slice;
  // consumed by backward).
  const Tensor& logits() const { return logits_; }

  // ---- policy-gradient interface (PPO / GRPO) ----
  // As forward, but prepares backward() with a weight per target:
  //   dL/dlogits_t = weights[t] * dCE_t/dlogits_t,  CE_t = -log softmax(logits_t)[target_t].
  // weights [B, T] f32 (any sign; zero is allowed); targets < 0 are ignored
  // whatever their weight. For a loss L(logprob_t), logprob_t = -CE_t, pass
  // weights = -dL/dlogprob_t. Equal weights w give bitwise the gradients of
  // forward(…, dloss = w). Backward is always prepared (even all-zero
  // weights: then only add_final_hidden_grad's gradient flows). Returns the
  // unweighted mean CE over the targets; last_loss_sum/count as forward.
  double forward_weighted(const Tensor& tokens, const Tensor& targets, const Tensor& weights);
  // As forward_weighted, the loss left on the device (forward_deferred).
  void forward_weighted_deferred(const Tensor& tokens, const Tensor& targets, const Tensor& weights);
  // Runs the decoder up to the final LayerNorm only (no LM head: logits(),
  // token_losses() and token_entropy() are not updated); backward() is
  // prepared for the gradient given to add_final_hidden_grad() alone (a
  // critic GPT trained by a value loss). Saves the LM-head GEMMs.
  void forward_hidden(const Tensor& tokens);
  // Per-target cross-entropy -log p(target) of the last forward with targets,
  // [B*T] (0 where target < 0); full on every tensor-parallel rank. Valid
  // until the next forward.
  const Tensor& token_losses() const { return losses_; }
  // When on, every forward that computes logits also computes the entropy of
  // softmax(logits) at each position (over the full vocabulary; a collective
  // under tensor parallelism), before dlogits overwrite the logits.
  void set_track_entropy(bool on) { track_entropy_ = on; }
  bool track_entropy() const { return track_entropy_; }
  // [B*T] nats, valid until the next forward (only with track_entropy).
  const Tensor& token_entropy() const { return entropy_; }

  // ---- heads on the trunk ----
  // The final LayerNorm's output of the last forward, [B, T, C], identical on
  // every tensor-parallel rank. Valid until the next forward; do not modify
  // it (backward reads it).
  const Tensor& final_hidden() const { return lnf_out_; }
  // g [B, T, C] (or [B*T, C]) is added to dL/d(final_hidden) by the next
  // backward(); several calls accumulate. Call after a forward and before its
  // backward; it also prepares backward() when the forward did not (dloss =
  // 0, or forward_hidden). Under tensor parallelism pass the same g on every
  // rank (a replicated head computes it from the identical final_hidden).
  void add_final_hidden_grad(const Tensor& g);

  // ---- LoRA adapters (continual learning; model/lora.h) ----
  // Adds an adapter to each targeted projection of every block, in a new
  // ParameterStore (A initialised from cfg.seed, B = 0: the model's output
  // is unchanged). Adapters apply in forward, backward, recompute and
  // decode_step. Fails if adapters exist already.
  void enable_lora(const LoraConfig& cfg);
  bool lora_enabled() const { return lora_params_ != nullptr; }
  const LoraConfig& lora_config() const { return lora_cfg_; }
  // The adapters' parameters (names "blocks.<i>.attn.qkv.lora_A", …): what an
  // optimizer, a gradient reducer or a checkpoint takes in the continual
  // phase. The grad-ready hook does not announce them: reduce after backward().
  ParameterStore& lora_parameters();
  // Switch the adapters off (the base model alone) and on again, keeping them.
  void set_lora_active(bool on);
  bool lora_active() const { return lora_active_; }
  // named_values() with every adapter merged (active or not),
  // W' = W + (alpha / r) B A: a plain GPT loaded with them (load_named)
  // computes what this one does with the adapters on. Collective under
  // tensor parallelism.
  std::vector<std::pair<std::string, Tensor>> merged_named_values() const;
  // W += (alpha / r) B A in this model's own weights, then remove_lora().
  // Collective under tensor parallelism.
  void merge_lora();
  // Drops the adapters and their store (the base model alone).
  void remove_lora();
  // L2 norm of the adapters' gradient (collective under tensor parallelism).
  double lora_grad_norm() const;
  double lora_grad_norm(const Tensor& with, std::span<double> with_host) const;  // as grad_norm(with, ...)
  // Frozen base: backward computes no gradient of the base parameters (their
  // gradients stay as they are; input gradients still flow, so the adapters
  // train). Saves every weight-gradient GEMM of the base.
  void set_base_frozen(bool on);
  bool base_frozen() const { return base_frozen_; }

  // Incremental decoding with a KV cache.
  KVCache make_cache(std::int64_t batch, std::int64_t capacity) const;
  // tokens [B] at position `pos` of each sequence -> full logits [B, V].
  void decode_step(const Tensor& tokens, std::int64_t pos, KVCache& cache, const Tensor& logits);
  // Continuous batching: B sequences of different lengths, each with its own
  // cache (batch 1), one token each: tokens [B], row b at positions[b] of
  // *caches[b] -> full logits [B, V]. Row b's logits are those decode_step
  // gives for that sequence alone (the same math; every GEMM runs over the B
  // rows at once).
  void decode_batch(const Tensor& tokens, std::span<const std::int64_t> positions, std::span<KVCache* const> caches,
                    const Tensor& logits);

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
  void check_tokens(const Tensor& tokens) const;
  void run_trunk(const Tensor& tokens);
  void run_head();
  void loss_and_dlogits(const Tensor& targets, float dloss);
  void read_loss_sums() const;
  void sum_losses(const Tensor& targets);
  void attach_lora(bool on);
  // The decode step over rows: kv[l * B + b] is layer l's cache of row b.
  void decode_rows(const Tensor& tokens, std::span<const std::int64_t> positions, std::span<const LayerKV> kv,
                   const Tensor& logits);
  void store_activation(const Tensor& t) const {
    if (act_precision_ != Precision::FP32) be_.round_to_precision(t, t, act_precision_);
  }

  // One adapter and the projection it belongs to.
  enum class LoraTarget { Qkv, AttnProj, Fc, MlpProj };
  struct LoraSlot {
    std::unique_ptr<LoraAdapter> adapter;
    std::size_t block;
    LoraTarget target;
  };

  GPTConfig cfg_;
  Backend& be_;
  TensorParallelGroup tp_;
  ParameterStore params_;
  std::unique_ptr<VocabParallelEmbedding> wte_;  // token embedding and tied LM head
  Parameter* wpe_;                               // [T, C]
  std::vector<std::unique_ptr<Block>> blocks_;
  std::vector<std::pair<std::size_t, std::size_t>> block_params_;  // [first, last) index per block
  std::unique_ptr<LayerNorm> lnf_;
  GradReadyHook grad_ready_;

  bool recompute_ = false;
  Precision act_precision_ = Precision::FP32;
  std::int64_t B_ = 0, T_ = 0;
  Tensor tokens_, positions_;        // [B*T] int32 copies of the last batch
  Tensor targets_;                   // [B*T] int32 device copy of host targets (unused when they are on the device)
  Tensor weights_;                   // [B*T] forward_weighted's weights on the device
  Tensor loss_sums_, loss_targets_;  // [2] F64 (sum, count) of the last forward, and its device targets
  mutable Tensor host_loss_sums_;    // their host copy on a device
  std::vector<Tensor> residual_;     // L+1 tensors [B, T, C]: block inputs and final output
  std::vector<BlockActivations> block_acts_;
  BlockActivations shared_acts_;
  BlockGradScratch grad_scratch_;
  Tensor lnf_out_, lnf_mean_, lnf_rstd_;  // [B, T, C], [N], [N]
  Tensor logits_;                         // [B, T, Vl]; dlogits in place after forward(…, dloss > 0)
  Tensor losses_, row_max_, ce_stats_;    // [N], [N], [2, N]
  Tensor d_lnf_, d_res_;                  // [B, T, C]
  Tensor entropy_;                        // [N] when track_entropy_
  Tensor hidden_grad_;                    // [B, T, C] from add_final_hidden_grad
  bool track_entropy_ = false;
  bool trunk_valid_ = false;          // a forward's activations await their backward
  bool head_grad_ = false;            // backward runs the LM head (dlogits are in logits_)
  bool hidden_grad_pending_ = false;  // hidden_grad_ holds a gradient for the next backward
  bool backward_ready_ = false;
  // loss_sums_ as read back by read_loss_sums(); loss_read_ until the next forward.
  mutable double last_loss_sum_ = 0.0;
  mutable std::int64_t last_loss_count_ = 0;
  mutable bool loss_read_ = false;

  std::unique_ptr<ParameterStore> lora_params_;
  std::vector<LoraSlot> lora_slots_;
  LoraConfig lora_cfg_;
  bool lora_active_ = false;
  bool base_frozen_ = false;

  DecodeScratch decode_scratch_;
  Tensor decode_x_, decode_pos_, decode_lnf_, decode_local_logits_, decode_gathered_;
  Tensor decode_tokens_;  // device copy of host decode tokens
};

}  // namespace pouch
