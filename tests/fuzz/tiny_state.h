#pragma once
// The tiny model both fuzz programs agree on: make_corpus writes its weights
// file and checkpoints as seeds, and the fuzz target reads inputs into it, so
// the seeds' datasets match the shapes the reader asks for and mutations
// reach the hyperslab reads rather than stopping at a shape mismatch.
//   wte          [11, 8]  Rows, padded to 12 at tp=2
//   qkv.weight   [24, 8]  Rows, 3 sections (q|k|v)
//   proj.weight  [8, 8]   Columns
//   ln.weight    [8]      Replicated
#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/training_checkpoint.h"
#include "model/gpt_config.h"
#include "runtime/tensor_shard.h"

namespace pouch::fuzz {

inline GPTConfig tiny_config() {
  GPTConfig c;
  c.layers = 1;
  c.d_model = 8;
  c.heads = 2;
  c.seq_len = 4;
  c.vocab_size = 11;
  return c;
}

struct TinyParam {
  const char* name;
  Shape full;
};

inline const std::vector<TinyParam>& tiny_params() {
  static const std::vector<TinyParam> p{
      {"wte", {11, 8}}, {"qkv.weight", {24, 8}}, {"proj.weight", {8, 8}}, {"ln.weight", {8}}};
  return p;
}

inline ShardSpec tiny_spec(const std::string& name, int tp_rank, int tp) {
  if (name == "wte") return ShardSpec::rows(tp_rank, tp, 1, (11 + tp - 1) / tp * tp);
  if (name == "qkv.weight") return ShardSpec::rows(tp_rank, tp, 3);
  if (name == "proj.weight") return ShardSpec::columns(tp_rank, tp);
  return ShardSpec::replicated();
}

// Whole tensors (tp=1) filled with `salt` + i / 64 when `fill`, else empty
// read targets of rank `tp_rank` of `tp`.
inline std::vector<ShardedTensor> tiny_tensors(int tp_rank, int tp, float salt, bool fill) {
  std::vector<ShardedTensor> out;
  for (const auto& p : tiny_params()) {
    ShardedTensor t{p.name, p.full, tiny_spec(p.name, tp_rank, tp), Tensor()};
    if (fill) {
      t.local = Tensor::empty(shard_shape(t.shard, t.full_shape), DType::F32);
      for (std::int64_t i = 0; i < t.local.numel(); ++i) t.local.f32()[i] = salt + static_cast<float>(i) / 64.0f;
    }
    out.push_back(std::move(t));
  }
  return out;
}

// What a world of one writes at `step` (with_optim: AdamW moments and rng).
inline CheckpointState tiny_state(std::int64_t step, bool with_optim) {
  CheckpointState s;
  s.meta.step = step;
  s.meta.tokens_seen = step * 64;
  s.meta.phase = "pretrain";
  s.meta.config_ini = "[model]\nlayers = 1\nd_model = 8\n";
  s.model = tiny_tensors(0, 1, 1.0f, true);
  if (with_optim) {
    s.optim_m = tiny_tensors(0, 1, 2.0f, true);
    s.optim_v = tiny_tensors(0, 1, 3.0f, true);
    s.optim_step = step;
    s.rng_per_rank["init"] = {0x9e3779b97f4a7c15ull, 7};
  }
  s.data_per_rank["sampler"] = {step, 0, -1};
  s.extra_attrs["note"] = "fuzz seed";
  s.model_config = tiny_config();
  return s;
}

// Read targets for rank `tp_rank` of `tp`.
inline CheckpointState tiny_targets(int tp_rank, int tp) {
  CheckpointState s;
  s.model = tiny_tensors(tp_rank, tp, 0, false);
  s.optim_m = tiny_tensors(tp_rank, tp, 0, false);
  s.optim_v = tiny_tensors(tp_rank, tp, 0, false);
  return s;
}

}  // namespace pouch::fuzz
