#pragma once
// How a parameter's full (logical) tensor is split over tensor-parallel
// ranks, and the copies between the full tensor and one rank's shard.
// Checkpoints and weights files always hold full tensors, so a file does not
// depend on the layout that wrote it; each rank slices what it owns.
//
//   Replicated  every rank holds the whole tensor.
//   Rows        dim 0 is `sections` equal blocks (q|k|v for the fused qkv,
//               1 otherwise), each split into `ranks` contiguous pieces; rank
//               r holds piece r of every block. With padded_rows > dim 0
//               (one section only: the vocabulary padded to a multiple of
//               the ranks) the rows past dim 0 are zero padding.
//   Columns     the last dim split into `ranks` contiguous pieces.
#include <cstdint>

#include "runtime/tensor.h"

namespace pouch {

class Backend;

struct ShardSpec {
  enum class Kind { Replicated, Rows, Columns };
  Kind kind = Kind::Replicated;
  int rank = 0;
  int ranks = 1;
  int sections = 1;
  std::int64_t padded_rows = 0;  // Rows: dim 0 padded to this (0 = no padding)

  static ShardSpec replicated() { return {}; }
  static ShardSpec rows(int rank, int ranks, int sections = 1, std::int64_t padded_rows = 0) {
    return {Kind::Rows, rank, ranks, sections, padded_rows};
  }
  static ShardSpec columns(int rank, int ranks) { return {Kind::Columns, rank, ranks, 1, 0}; }
  bool sharded() const { return kind != Kind::Replicated && ranks > 1; }
};

// The shard's shape for a full shape; checks divisibility.
Shape shard_shape(const ShardSpec& spec, const Shape& full);
// local = this rank's piece of full (padding rows zeroed).
void copy_full_to_shard(const ShardSpec& spec, const Tensor& full, const Tensor& local);
// As above for tensors of be's device or the host (full and local may each
// be either): on a device the cut is done on the host, between one copy down
// and one copy up (init, load and merge only: the copy down is a host sync).
void copy_full_to_shard(Backend& be, const ShardSpec& spec, const Tensor& full, const Tensor& local);
// this rank's piece of full = local (padding dropped); other pieces untouched.
void copy_shard_to_full(const ShardSpec& spec, const Tensor& local, const Tensor& full);

}  // namespace pouch
