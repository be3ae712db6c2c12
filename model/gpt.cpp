#include "model/gpt.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <span>

#include "runtime/rng.h"

namespace pouch {

namespace {
void ensure_shape(Backend& be, Tensor& t, const Shape& shape, DType dtype = DType::F32) {
  if (!t.defined() || t.shape() != shape) t = be.empty(shape, dtype);
}

// t on be's device: itself when it is there already (always on the CPU
// backend), else copied into `buffer` (stream-ordered; a host source may be
// reused by the caller at once).
Tensor on_device(Backend& be, const Tensor& t, Tensor& buffer) {
  if (t.device() == be.device()) return t;
  if (!buffer.defined() || buffer.shape() != t.shape() || buffer.dtype() != t.dtype())
    buffer = be.empty(t.shape(), t.dtype());
  be.copy(buffer, t);
  return buffer;
}

// t on the host: itself when it is there, else copied into `buffer` (a
// pageable host tensor, so the copy is one host sync).
Tensor on_host_copy(Backend& be, const Tensor& t, Tensor& buffer) {
  if (t.on_host()) return t;
  if (!buffer.defined() || buffer.shape() != t.shape() || buffer.dtype() != t.dtype())
    buffer = Tensor::empty(t.shape(), t.dtype());
  be.copy(buffer, t);
  return buffer;
}

// A parameter's value from its full tensor on the host: the shard cut on
// the host, then one copy to the device (nothing extra on the CPU).
void set_from_full(Backend& be, const Parameter& p, const Tensor& full) {
  if (p.value.on_host()) {
    copy_full_to_shard(p.shard, full, p.value);
    return;
  }
  Tensor local = Tensor::empty(p.value.shape());
  copy_full_to_shard(p.shard, full, local);
  be.copy(p.value, local);
}

// A parameter's full tensor: its value itself when replicated, else a
// gathered copy (a collective over the group).
Tensor full_tensor(Backend& be, const TensorParallelGroup& tp, const Parameter& p) {
  if (!p.shard.sharded()) return p.value;
  // All ranks' shards, then each placed where its spec says.
  const std::int64_t n = p.value.numel();
  Tensor gathered = be.empty({tp.size() * n});
  tp.communicator()->all_gather(gathered, p.value.reshape({n}));
  // The shards are placed on the host (one read back on a device), then the
  // full tensor goes to the device in one copy.
  Tensor host_buffer;
  const Tensor host_gathered = on_host_copy(be, gathered, host_buffer);
  Tensor host_full = Tensor::zeros(p.full_shape);
  for (int r = 0; r < tp.size(); ++r) {
    ShardSpec spec = p.shard;
    spec.rank = r;
    copy_shard_to_full(spec, host_gathered.view(r * n, p.shape), host_full);
  }
  if (p.value.on_host()) return host_full;
  Tensor full = be.empty(p.full_shape);
  be.copy(full, host_full);
  return full;
}

// Shards summed over the group (a collective), replicated parameters counted
// once. One segmented reduction on the backend (slot 0 sharded, slot 1
// replicated; each parameter's sum added in store order, the bits of a
// per-parameter loop), then one read back to the host that also brings
// `with` (F64 device scalars, may be undefined) into `with_host`.
double store_grad_norm(Backend& be, const TensorParallelGroup& tp, const ParameterStore& store, const Tensor& with,
                       std::span<double> with_host) {
  std::vector<SquareSumSegment> segments;
  segments.reserve(store.size());
  for (const auto& p : store) segments.push_back({p.offset, p.grad.numel(), p.shard.sharded() ? 0 : 1});
  const std::int64_t n_with = with.defined() ? with.numel() : 0;
  POUCH_CHECK(static_cast<std::int64_t>(with_host.size()) == n_with, "grad_norm: {} host slots for {} device scalars",
              with_host.size(), n_with);
  const Tensor sums = be.empty({2 + n_with}, DType::F64);
  be.sum_squares_segments(store.grads(), segments, sums.view(0, {2}));
  if (n_with > 0) be.copy(sums.view(2, {n_with}), with.reshape({n_with}));
  Tensor host = Tensor::empty({2 + n_with}, DType::F64);  // the all-reduce below is the host communicator's
  be.copy(host, sums);
  for (std::int64_t i = 0; i < n_with; ++i) with_host[static_cast<std::size_t>(i)] = host.data<double>()[2 + i];
  double sharded = host.data<double>()[0];
  const double replicated = host.data<double>()[1];
  if (tp.size() > 1) {
    Tensor t = host.view(0, {1});
    tp.all_reduce_sum(t);
    sharded = t.data<double>()[0];
  }
  return std::sqrt(sharded + replicated);
}
}  // namespace

GPT::GPT(const GPTConfig& cfg, Backend& backend, TensorParallelGroup tp) : cfg_(cfg), be_(backend), tp_(tp) {
  const std::int64_t ranks = tp_.size();
  POUCH_CHECK(cfg.d_model % cfg.heads == 0, "d_model {} not divisible by heads {}", cfg.d_model, cfg.heads);
  POUCH_CHECK(cfg.heads % ranks == 0 && (4 * cfg.d_model) % ranks == 0, "heads {} / 4*d_model {} vs tp {}", cfg.heads,
              4 * cfg.d_model, ranks);
  wte_ = std::make_unique<VocabParallelEmbedding>(params_, "wte", cfg.vocab_size, cfg.d_model, tp_);
  wpe_ = params_.add("wpe", {cfg.seq_len, cfg.d_model});
  for (std::int64_t i = 0; i < cfg.layers; ++i) {
    const std::size_t first = params_.size();
    blocks_.push_back(
        std::make_unique<Block>(params_, fmt::format("blocks.{}", i), cfg.d_model, cfg.heads, cfg.ln_eps, tp_));
    block_params_.emplace_back(first, params_.size());
  }
  lnf_ = std::make_unique<LayerNorm>(params_, "lnf", cfg.d_model, cfg.ln_eps);
  params_.allocate(be_);
  block_acts_.resize(static_cast<std::size_t>(cfg.layers));
}

void GPT::init_weights(std::uint64_t seed) {
  for (auto& p : params_) {
    Tensor full = Tensor::empty(p.full_shape);
    float* w = full.f32();
    const std::int64_t n = full.numel();
    const bool is_norm_weight = p.full_shape.size() == 1 && p.name.ends_with(".weight");
    if (p.full_shape.size() >= 2) {
      RngStream rng(seed, stream_id(p.name.c_str()));
      for (std::int64_t i = 0; i < n; ++i) w[i] = 0.02f * rng.normal();
    } else {
      std::fill(w, w + n, is_norm_weight ? 1.0f : 0.0f);
    }
    set_from_full(be_, p, full);
  }
}

void GPT::load_named(const std::vector<std::pair<std::string, Tensor>>& named, const std::string& source) {
  for (const auto& [name, t] : named) {
    if (params_.find(name) == nullptr)
      fail("{}: dataset '{}' is not a parameter of this model (layers={}, d_model={}); check the [model] config",
           source, name, cfg_.layers, cfg_.d_model);
  }
  for (auto& p : params_) {
    const Tensor* found = nullptr;
    for (const auto& [name, t] : named)
      if (name == p.name) found = &t;
    if (found == nullptr)
      fail("{}: parameter '{}' is missing; the file does not hold a complete model", source, p.name);
    if (found->shape() != p.full_shape)
      fail("{}: parameter '{}' has shape {} but the config needs {}; set [model] to match the file", source, p.name,
           shape_str(found->shape()), shape_str(p.full_shape));
    if (found->dtype() != DType::F32) fail("{}: parameter '{}' is not float32", source, p.name);
    set_from_full(be_, p, *found);
  }
}

std::vector<std::pair<std::string, Tensor>> GPT::named_values() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& p : params_) out.emplace_back(p.name, full_tensor(be_, tp_, p));
  return out;
}

std::vector<std::pair<std::string, Tensor>> GPT::on_host(std::vector<std::pair<std::string, Tensor>> named) const {
  for (auto& [name, t] : named) {
    if (t.on_host()) continue;
    Tensor host = Tensor::empty(t.shape(), t.dtype());
    be_.copy(host, t);
    t = host;
  }
  return named;
}

void GPT::set_activation_precision(Precision p) { act_precision_ = p; }

void GPT::set_recompute(bool on) {
  recompute_ = on;
  // Drop the per-block activations we no longer need (or the shared set).
  if (on) {
    for (auto& a : block_acts_) a = BlockActivations();
  } else {
    shared_acts_ = BlockActivations();
  }
  backward_ready_ = false;
}

void GPT::ensure_buffers(std::int64_t B, std::int64_t T) {
  const std::int64_t C = cfg_.d_model, N = B * T;
  if (B != B_ || T != T_) {
    residual_.assign(static_cast<std::size_t>(cfg_.layers + 1), Tensor());
    B_ = B;
    T_ = T;
  }
  const BlockDims& dims = blocks_.empty() ? BlockDims{C, C / tp_.size(), cfg_.heads / tp_.size()} : blocks_[0]->dims();
  ensure_shape(be_, tokens_, {N}, DType::I32);
  ensure_shape(be_, positions_, {N}, DType::I32);
  for (auto& r : residual_) ensure_shape(be_, r, {B, T, C});
  if (recompute_) {
    shared_acts_.ensure(be_, B, T, dims);
  } else {
    for (auto& a : block_acts_) a.ensure(be_, B, T, dims);
  }
  grad_scratch_.ensure(be_, B, T, dims);
  ensure_shape(be_, lnf_out_, {B, T, C});
  ensure_shape(be_, lnf_mean_, {N});
  ensure_shape(be_, lnf_rstd_, {N});
  ensure_shape(be_, logits_, {B, T, local_vocab()});
  ensure_shape(be_, losses_, {N});
  ensure_shape(be_, row_max_, {N});
  ensure_shape(be_, ce_stats_, {2, N});
  ensure_shape(be_, d_lnf_, {B, T, C});
  ensure_shape(be_, d_res_, {B, T, C});
  ensure_shape(be_, hidden_grad_, {B, T, C});
  if (track_entropy_) ensure_shape(be_, entropy_, {N});
}

void GPT::check_tokens(const Tensor& tokens) const {
  POUCH_CHECK(tokens.ndim() == 2 && tokens.dtype() == DType::I32, "tokens must be [B, T] int32");
  if (tokens.dim(1) > cfg_.seq_len)
    fail("sequence length {} exceeds the model's context [model] seq_len = {}", tokens.dim(1), cfg_.seq_len);
}

void GPT::run_trunk(const Tensor& tokens) {
  check_tokens(tokens);
  const std::int64_t B = tokens.dim(0), T = tokens.dim(1), N = B * T;
  ensure_buffers(B, T);
  be_.copy(tokens_, tokens.reshape({N}));
  // Built on the host; on a device, one copy up (the host buffer may be
  // reused at once: a pageable source is read at the call).
  const Tensor pos_host = positions_.on_host() ? positions_ : Tensor::empty({N}, DType::I32);
  std::int32_t* pos = pos_host.i32();
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t t = 0; t < T; ++t) pos[b * T + t] = static_cast<std::int32_t>(t);
  if (!positions_.on_host()) be_.copy(positions_, pos_host);

  const Tensor x0 = residual_[0].reshape({N, cfg_.d_model});
  wte_->embed(be_, x0, tokens_);
  be_.embedding_forward(x0, positions_, wpe_->value, 0, true);
  store_activation(x0);
  for (std::size_t l = 0; l < blocks_.size(); ++l) {
    blocks_[l]->forward(be_, residual_[l + 1], residual_[l], acts_for(l));
    store_activation(residual_[l + 1]);
  }
  lnf_->forward(be_, lnf_out_, lnf_mean_, lnf_rstd_, residual_.back());
  backward_ready_ = false;
  head_grad_ = false;
  hidden_grad_pending_ = false;
  trunk_valid_ = true;
}

void GPT::run_head() {
  const std::int64_t N = B_ * T_;
  const Tensor logits2d = logits_.reshape({N, local_vocab()});
  wte_->logits(be_, logits2d, lnf_out_.reshape({N, cfg_.d_model}));
  if (track_entropy_) wte_->entropy(be_, entropy_, logits2d, row_max_, ce_stats_);
}

double GPT::forward(const Tensor& tokens, const Tensor& targets, float dloss) {
  forward_deferred(tokens, targets, dloss);
  return targets.defined() ? last_loss_mean() : 0.0;
}

void GPT::forward_deferred(const Tensor& tokens, const Tensor& targets, float dloss) {
  run_trunk(tokens);
  run_head();
  if (!targets.defined()) return;
  POUCH_CHECK(targets.shape() == tokens.shape() && targets.dtype() == DType::I32, "targets must match tokens");
  loss_and_dlogits(targets.reshape({B_ * T_}), dloss);
  backward_ready_ = head_grad_ = dloss > 0.0f;
}

double GPT::forward_weighted(const Tensor& tokens, const Tensor& targets, const Tensor& weights) {
  forward_weighted_deferred(tokens, targets, weights);
  return last_loss_mean();
}

void GPT::forward_weighted_deferred(const Tensor& tokens, const Tensor& targets, const Tensor& weights) {
  POUCH_CHECK(targets.defined() && targets.shape() == tokens.shape() && targets.dtype() == DType::I32,
              "targets must match tokens");
  POUCH_CHECK(weights.defined() && weights.shape() == tokens.shape() && weights.dtype() == DType::F32,
              "weights {} must be [B, T] float32 like tokens {}", shape_str(weights.shape()),
              shape_str(tokens.shape()));
  run_trunk(tokens);
  run_head();
  const std::int64_t N = B_ * T_;
  const Tensor logits2d = logits_.reshape({N, local_vocab()}), targets1d = targets.reshape({N});
  const Tensor targets_d = on_device(be_, targets1d, targets_);
  wte_->cross_entropy_weighted(be_, losses_, logits2d, logits2d, targets_d,
                               on_device(be_, weights.reshape({N}), weights_), row_max_, ce_stats_);
  backward_ready_ = head_grad_ = true;
  sum_losses(targets_d);
}

void GPT::forward_hidden(const Tensor& tokens) { run_trunk(tokens); }

void GPT::add_final_hidden_grad(const Tensor& g) {
  POUCH_CHECK(trunk_valid_, "add_final_hidden_grad() needs a forward before it (and its backward not yet run)");
  POUCH_CHECK(g.numel() == hidden_grad_.numel() && g.dtype() == DType::F32,
              "final-hidden gradient {} for a forward of [{}, {}, {}]", shape_str(g.shape()), B_, T_, cfg_.d_model);
  const Tensor g3 = g.reshape(hidden_grad_.shape());
  if (hidden_grad_pending_)
    be_.add(hidden_grad_, hidden_grad_, g3);
  else
    be_.copy(hidden_grad_, g3);
  hidden_grad_pending_ = true;
  backward_ready_ = true;
}

void GPT::loss_and_dlogits(const Tensor& targets, float dloss) {
  const std::int64_t N = targets.numel(), Vl = local_vocab();
  const Tensor logits2d = logits_.reshape({N, Vl});
  const Tensor dlogits = dloss > 0.0f ? logits2d : Tensor();
  const Tensor targets_d = on_device(be_, targets, targets_);
  wte_->cross_entropy(be_, losses_, dlogits, logits2d, targets_d, dloss, row_max_, ce_stats_);
  sum_losses(targets_d);
}

void GPT::sum_losses(const Tensor& targets) {
  // On the device, in a fixed order (reproducible); read back only when
  // last_loss_sum/count/mean ask.
  ensure_shape(be_, loss_sums_, {2}, DType::F64);
  be_.fill(loss_sums_, 0.0f);
  be_.masked_loss_sum(losses_, targets, loss_sums_);
  loss_targets_ = targets;
  loss_read_ = false;
}

void GPT::read_loss_sums() const {
  if (loss_read_) return;
  POUCH_CHECK(loss_sums_.defined(), "the loss was asked for before any forward with targets");
  const Tensor host = on_host_copy(be_, loss_sums_, host_loss_sums_);  // one host sync on a device
  last_loss_sum_ = host.data<double>()[0];
  last_loss_count_ = static_cast<std::int64_t>(host.data<double>()[1]);
  loss_read_ = true;
}

double GPT::last_loss_sum() const {
  read_loss_sums();
  return last_loss_sum_;
}

std::int64_t GPT::last_loss_count() const {
  read_loss_sums();
  return last_loss_count_;
}

double GPT::last_loss_mean() const {
  read_loss_sums();
  return last_loss_count_ > 0 ? last_loss_sum_ / static_cast<double>(last_loss_count_) : 0.0;
}

void GPT::add_loss_sums_to(const Tensor& sums) const {
  POUCH_CHECK(loss_targets_.defined(), "add_loss_sums_to() before any forward with targets");
  be_.masked_loss_sum(losses_, loss_targets_, sums);
}

void GPT::block_ready(std::size_t layer) const {
  for (std::size_t i = block_params_[layer].first; i < block_params_[layer].second; ++i) notify_ready(&params_[i]);
}

void GPT::backward() {
  POUCH_CHECK(backward_ready_,
              "backward() without a forward(…, dloss > 0), forward_weighted() or add_final_hidden_grad() before it");
  const std::int64_t N = B_ * T_, C = cfg_.d_model;
  if (head_grad_)
    wte_->logits_backward(be_, d_lnf_.reshape({N, C}), logits_.reshape({N, local_vocab()}), lnf_out_.reshape({N, C}));
  else
    be_.fill(d_lnf_, 0.0f);
  // After the LM head's all-reduce: d_lnf is full on every rank, as is the head's gradient.
  if (hidden_grad_pending_) be_.add(d_lnf_, d_lnf_, hidden_grad_);
  be_.fill(d_res_, 0.0f);
  lnf_->backward(be_, d_res_, d_lnf_, residual_.back(), lnf_mean_, lnf_rstd_);
  notify_ready(lnf_->weight());
  notify_ready(lnf_->bias());
  for (std::size_t l = blocks_.size(); l-- > 0;) {
    if (recompute_) {
      blocks_[l]->forward(be_, residual_[l + 1], residual_[l], shared_acts_);
      store_activation(residual_[l + 1]);
    }
    blocks_[l]->backward(be_, d_res_, residual_[l], acts_for(l), grad_scratch_);
    block_ready(l);
  }
  const Tensor d0 = d_res_.reshape({N, C});
  wte_->embed_backward(be_, d0, tokens_);
  if (!base_frozen_) be_.embedding_backward(wpe_->grad, d0, positions_, 0);
  notify_ready(wpe_);
  notify_ready(wte_->weight());
  backward_ready_ = false;
  head_grad_ = false;
  hidden_grad_pending_ = false;
  trunk_valid_ = false;
}

double GPT::grad_norm() const { return store_grad_norm(be_, tp_, params_, Tensor(), {}); }

double GPT::grad_norm(const Tensor& with, std::span<double> with_host) const {
  return store_grad_norm(be_, tp_, params_, with, with_host);
}

KVCache GPT::make_cache(std::int64_t batch, std::int64_t capacity) const {
  POUCH_CHECK(capacity <= cfg_.seq_len, "cache capacity {} beyond seq_len {}", capacity, cfg_.seq_len);
  const std::int64_t width = cfg_.d_model / tp_.size();
  KVCache cache;
  cache.batch = batch;
  cache.capacity = capacity;
  for (std::int64_t l = 0; l < cfg_.layers; ++l)
    cache.layers.push_back({be_.zeros({batch, capacity, width}), be_.zeros({batch, capacity, width})});
  return cache;
}

void GPT::decode_step(const Tensor& tokens, std::int64_t pos, KVCache& cache, const Tensor& logits) {
  const std::int64_t B = tokens.dim(0);
  POUCH_CHECK(B == cache.batch, "decode batch {} vs cache batch {}", B, cache.batch);
  if (pos >= cache.capacity) fail("generation reached the context limit of {} tokens", cache.capacity);
  // Row b of a batch-B cache is the contiguous [1, Tmax, C_r] slice b.
  std::vector<LayerKV> kv;
  kv.reserve(blocks_.size() * static_cast<std::size_t>(B));
  for (const LayerKV& layer : cache.layers) {
    const std::int64_t Tmax = layer.k.dim(1), width = layer.k.dim(2);
    for (std::int64_t b = 0; b < B; ++b)
      kv.push_back(
          {layer.k.view(b * Tmax * width, {1, Tmax, width}), layer.v.view(b * Tmax * width, {1, Tmax, width})});
  }
  const std::vector<std::int64_t> positions(static_cast<std::size_t>(B), pos);
  decode_rows(tokens, positions, kv, logits);
}

void GPT::decode_batch(const Tensor& tokens, std::span<const std::int64_t> positions, std::span<KVCache* const> caches,
                       const Tensor& logits) {
  const std::int64_t B = tokens.dim(0);
  POUCH_CHECK(static_cast<std::int64_t>(caches.size()) == B, "decode batch {} with {} caches", B, caches.size());
  std::vector<LayerKV> kv(blocks_.size() * static_cast<std::size_t>(B));
  for (std::int64_t b = 0; b < B; ++b) {
    const KVCache& cache = *caches[b];
    POUCH_CHECK(cache.batch == 1, "decode_batch takes one cache per sequence (batch 1), not batch {}", cache.batch);
    if (positions[b] >= cache.capacity) fail("generation reached the context limit of {} tokens", cache.capacity);
    for (std::size_t l = 0; l < blocks_.size(); ++l) kv[l * B + b] = cache.layers[l];
  }
  decode_rows(tokens, positions, kv, logits);
}

void GPT::decode_rows(const Tensor& tokens, std::span<const std::int64_t> positions, std::span<const LayerKV> kv,
                      const Tensor& logits) {
  const std::int64_t B = tokens.dim(0), C = cfg_.d_model, V = cfg_.vocab_size, Vl = local_vocab();
  POUCH_CHECK(static_cast<std::int64_t>(positions.size()) == B, "decode batch {} with {} positions", B,
              positions.size());
  POUCH_CHECK(logits.numel() == B * V, "decode logits {} for batch {} and vocabulary {}", shape_str(logits.shape()), B,
              V);
  decode_scratch_.ensure(be_, B, blocks_.empty() ? BlockDims{C, C, cfg_.heads} : blocks_[0]->dims());
  ensure_shape(be_, decode_x_, {B, C});
  ensure_shape(be_, decode_lnf_, {B, C});
  ensure_shape(be_, decode_pos_, {B}, DType::I32);
  const Tensor pos_host = decode_pos_.on_host() ? decode_pos_ : Tensor::empty({B}, DType::I32);
  for (std::int64_t b = 0; b < B; ++b) pos_host.i32()[b] = static_cast<std::int32_t>(positions[b]);
  if (!decode_pos_.on_host()) be_.copy(decode_pos_, pos_host);
  wte_->embed(be_, decode_x_, on_device(be_, tokens, decode_tokens_));
  be_.embedding_forward(decode_x_, decode_pos_, wpe_->value, 0, true);
  store_activation(decode_x_);
  for (std::size_t l = 0; l < blocks_.size(); ++l) {
    blocks_[l]->decode(be_, decode_x_, positions, kv.subspan(l * B, B), decode_scratch_);
    store_activation(decode_x_);
  }
  lnf_->forward(be_, decode_lnf_, Tensor(), Tensor(), decode_x_);
  if (tp_.size() == 1) {
    wte_->logits(be_, logits.reshape({B, V}), decode_lnf_);
    return;
  }
  ensure_shape(be_, decode_local_logits_, {B, Vl});
  ensure_shape(be_, decode_gathered_, {tp_.size() * B * Vl});
  wte_->logits(be_, decode_local_logits_, decode_lnf_);
  wte_->gather_logits(be_, logits.reshape({B, V}), decode_local_logits_, decode_gathered_);
}

double GPT::train_flops_per_token(std::int64_t T) const {
  const double C = static_cast<double>(cfg_.d_model), L = static_cast<double>(cfg_.layers);
  const double matmul_params = L * 12.0 * C * C + static_cast<double>(cfg_.vocab_size) * C;
  return 6.0 * matmul_params + 6.0 * L * static_cast<double>(T) * C;
}

// ---- LoRA ----

void GPT::enable_lora(const LoraConfig& cfg) {
  if (lora_params_) fail("LoRA adapters are already enabled on this model; merge_lora() or remove_lora() first");
  if (cfg.rank <= 0) fail("LoRA rank must be positive (got {}); set the LoRA rank", cfg.rank);
  if (cfg.targets.empty()) fail("LoRA needs at least one target among qkv, attn_proj, fc, mlp_proj");
  bool want[4] = {false, false, false, false};
  static const char* const kNames[4] = {"qkv", "attn_proj", "fc", "mlp_proj"};
  for (const auto& t : cfg.targets) {
    const auto* it = std::find_if(std::begin(kNames), std::end(kNames), [&](const char* n) { return t == n; });
    if (it == std::end(kNames)) fail("unknown LoRA target '{}'; choose among qkv, attn_proj, fc, mlp_proj", t);
    want[it - std::begin(kNames)] = true;
  }
  const std::int64_t C = cfg_.d_model, r = cfg.rank;
  lora_params_ = std::make_unique<ParameterStore>();
  using Kind = LoraAdapter::Kind;
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    const std::string prefix = fmt::format("blocks.{}", i);
    auto add = [&](LoraTarget target, const std::string& name, Kind kind, std::int64_t in, std::int64_t out,
                   int sections) {
      lora_slots_.push_back(
          {std::make_unique<LoraAdapter>(*lora_params_, prefix + name, kind, in, out, r, cfg.alpha, tp_, sections), i,
           target});
    };
    if (want[0]) add(LoraTarget::Qkv, ".attn.qkv", Kind::Column, C, 3 * C, 3);
    if (want[1]) add(LoraTarget::AttnProj, ".attn.proj", Kind::Row, C, C, 1);
    if (want[2]) add(LoraTarget::Fc, ".mlp.fc", Kind::Column, C, 4 * C, 1);
    if (want[3]) add(LoraTarget::MlpProj, ".mlp.proj", Kind::Row, 4 * C, C, 1);
  }
  lora_params_->allocate(be_);
  for (const auto& slot : lora_slots_) slot.adapter->init_weights(be_, cfg.seed);
  lora_cfg_ = cfg;
  attach_lora(true);
}

void GPT::attach_lora(bool on) {
  for (const auto& slot : lora_slots_) {
    LoraAdapter* a = on ? slot.adapter.get() : nullptr;
    Block& block = *blocks_[slot.block];
    switch (slot.target) {
      case LoraTarget::Qkv:
        block.attn().qkv().set_lora(a);
        break;
      case LoraTarget::AttnProj:
        block.attn().proj().set_lora(a);
        break;
      case LoraTarget::Fc:
        block.mlp().fc().set_lora(a);
        break;
      case LoraTarget::MlpProj:
        block.mlp().proj().set_lora(a);
        break;
    }
  }
  lora_active_ = on && !lora_slots_.empty();
  backward_ready_ = false;  // a forward with the other setting must not be back-propagated with this one
}

ParameterStore& GPT::lora_parameters() {
  if (!lora_params_) fail("this model has no LoRA adapters; call enable_lora() first");
  return *lora_params_;
}

void GPT::set_lora_active(bool on) {
  if (on && !lora_params_) fail("this model has no LoRA adapters to activate; call enable_lora() first");
  attach_lora(on);
}

std::vector<std::pair<std::string, Tensor>> GPT::merged_named_values() const {
  auto named = named_values();
  for (const auto& slot : lora_slots_) {
    const LoraAdapter& a = *slot.adapter;
    const Tensor A = full_tensor(be_, tp_, *a.a()), B = full_tensor(be_, tp_, *a.b());  // [r, in], [out, r]
    for (auto& [name, value] : named) {
      if (name != a.name() + ".weight") continue;
      Tensor merged = be_.clone(value);  // a replicated value is the live parameter: never write into it
      be_.matmul(merged, B, A, false, false, a.scale(), 1.0f);  // W' = W + s B A
      value = merged;
    }
  }
  return named;
}

void GPT::merge_lora() {
  if (!lora_params_) fail("this model has no LoRA adapters to merge; call enable_lora() first");
  for (const auto& slot : lora_slots_) {
    const LoraAdapter& a = *slot.adapter;
    const Tensor A = full_tensor(be_, tp_, *a.a()), B = full_tensor(be_, tp_, *a.b());
    Parameter* w = params_.find(a.name() + ".weight");
    POUCH_CHECK(w != nullptr, "LoRA adapter {} has no base weight", a.name());
    Tensor delta = be_.zeros(w->full_shape), local = be_.empty(w->shape);
    be_.matmul(delta, B, A, false, false, a.scale(), 0.0f);  // s B A, full
    copy_full_to_shard(be_, w->shard, delta, local);
    be_.add(w->value, w->value, local);
  }
  remove_lora();
}

void GPT::remove_lora() {
  attach_lora(false);
  lora_slots_.clear();
  lora_params_.reset();
}

double GPT::lora_grad_norm() const {
  if (!lora_params_) fail("this model has no LoRA adapters; call enable_lora() first");
  return store_grad_norm(be_, tp_, *lora_params_, Tensor(), {});
}

double GPT::lora_grad_norm(const Tensor& with, std::span<double> with_host) const {
  if (!lora_params_) fail("this model has no LoRA adapters; call enable_lora() first");
  return store_grad_norm(be_, tp_, *lora_params_, with, with_host);
}

void GPT::set_base_frozen(bool on) {
  base_frozen_ = on;
  wte_->set_frozen(on);
  for (auto& b : blocks_) b->set_frozen(on);
  lnf_->set_frozen(on);
}

}  // namespace pouch
