#pragma once
// A small model-shaped CheckpointState whose every value is a function of
// (tensor name, element index, salt), so any rank of any layout can build the
// full tensors it expects to read back. Shapes cover every ShardSpec kind:
//   wte          [10, 8]  Rows, vocab padded to a multiple of tp (10 -> 12 at tp=4)
//   qkv.weight   [24, 8]  Rows, 3 sections (q|k|v)
//   qkv.bias     [24]     Rows, 3 sections, 1-d
//   fc.weight    [16, 8]  Rows
//   proj.weight  [8, 8]   Columns
//   fcproj.weight[8, 16]  Columns
//   ln.weight    [8]      Replicated
#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/training_checkpoint.h"
#include "runtime/tensor_shard.h"

namespace pouch::testing {

struct FixtureParam {
  const char* name;
  Shape full;
  ShardSpec::Kind kind;
  int sections;
};

inline const std::vector<FixtureParam>& fixture_params() {
  static const std::vector<FixtureParam> p{
      {"wte", {10, 8}, ShardSpec::Kind::Rows, 1},           {"qkv.weight", {24, 8}, ShardSpec::Kind::Rows, 3},
      {"qkv.bias", {24}, ShardSpec::Kind::Rows, 3},         {"fc.weight", {16, 8}, ShardSpec::Kind::Rows, 1},
      {"proj.weight", {8, 8}, ShardSpec::Kind::Columns, 1}, {"fcproj.weight", {8, 16}, ShardSpec::Kind::Columns, 1},
      {"ln.weight", {8}, ShardSpec::Kind::Replicated, 1},
  };
  return p;
}

inline ShardSpec fixture_spec(const FixtureParam& p, int tp_rank, int tp) {
  switch (p.kind) {
    case ShardSpec::Kind::Rows: {
      std::int64_t rows = p.full[0];
      std::int64_t padded = p.sections == 1 ? (rows + tp - 1) / tp * tp : 0;
      return ShardSpec::rows(tp_rank, tp, p.sections, padded > rows ? padded : 0);
    }
    case ShardSpec::Kind::Columns:
      return ShardSpec::columns(tp_rank, tp);
    default:
      return ShardSpec::replicated();
  }
}

// Distinct, exactly representable values: salt * 4096 + hash(name) % 512 * 8 + i / 64.
inline Tensor fixture_full(const std::string& name, const Shape& shape, int salt) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::uint32_t h = 0;
  for (char c : name) h = h * 31 + static_cast<unsigned char>(c);
  for (std::int64_t i = 0; i < t.numel(); ++i)
    t.f32()[i] = static_cast<float>(salt * 4096 + static_cast<int>(h % 512) * 8) + static_cast<float>(i) / 64.0f;
  return t;
}

inline std::vector<ShardedTensor> fixture_tensors(int tp_rank, int tp, int salt, bool fill) {
  std::vector<ShardedTensor> out;
  for (const auto& p : fixture_params()) {
    ShardedTensor t{p.name, p.full, fixture_spec(p, tp_rank, tp), Tensor()};
    if (fill) {
      t.local = Tensor::empty(shard_shape(t.shard, t.full_shape), DType::F32);
      copy_full_to_shard(t.shard, fixture_full(p.name, p.full, salt), t.local);
    }
    out.push_back(std::move(t));
  }
  return out;
}

// The state rank `rank` of a world of `world` ranks (tp_rank of tp) writes at `step`.
inline CheckpointState fixture_state(int rank, int tp_rank, int tp, std::int64_t step) {
  CheckpointState s;
  s.meta.step = step;
  s.meta.tokens_seen = step * 1024;
  s.meta.phase = "pretrain";
  s.meta.config_ini = "[model]\nlayers = 1\n";
  s.model = fixture_tensors(tp_rank, tp, 1, true);
  s.optim_m = fixture_tensors(tp_rank, tp, 2, true);
  s.optim_v = fixture_tensors(tp_rank, tp, 3, true);
  s.optim_step = step;
  s.rng_per_rank["init"] = {0x9e3779b97f4a7c15ull + static_cast<std::uint64_t>(rank), 7, 0xffffffffffffffffull};
  s.rng_per_rank["dropout"] = {static_cast<std::uint64_t>(rank) * 100 + static_cast<std::uint64_t>(step)};
  s.data_per_rank["sampler"] = {step, rank, -1};
  s.extra_attrs["note"] = "fixture";
  return s;
}

// Empty targets for reading at (tp_rank of tp).
inline CheckpointState fixture_targets(int tp_rank, int tp) {
  CheckpointState s;
  s.model = fixture_tensors(tp_rank, tp, 1, false);
  s.optim_m = fixture_tensors(tp_rank, tp, 2, false);
  s.optim_v = fixture_tensors(tp_rank, tp, 3, false);
  return s;
}

// "" when every tensor of `got` (read at tp_rank of tp) equals the expected
// shard of the fixture's full tensors, else what differs first.
inline std::string fixture_mismatch(const CheckpointState& got) {
  auto check = [](const std::vector<ShardedTensor>& v, int salt, const char* what) -> std::string {
    for (const auto& t : v) {
      Tensor want = Tensor::empty(shard_shape(t.shard, t.full_shape), DType::F32);
      copy_full_to_shard(t.shard, fixture_full(t.name, t.full_shape, salt), want);
      if (!t.local.defined() || t.local.shape() != want.shape()) return std::string(what) + " " + t.name + ": shape";
      for (std::int64_t i = 0; i < want.numel(); ++i)
        if (t.local.f32()[i] != want.f32()[i])
          return std::string(what) + " " + t.name + ": element " + std::to_string(i) + " is " +
                 std::to_string(t.local.f32()[i]) + ", expected " + std::to_string(want.f32()[i]);
    }
    return "";
  };
  for (auto r : {check(got.model, 1, "model"), check(got.optim_m, 2, "m"), check(got.optim_v, 3, "v")})
    if (!r.empty()) return r;
  return "";
}

}  // namespace pouch::testing
