#include "runtime/tensor_shard.h"

#include <algorithm>
#include <cstring>

#include "runtime/backend.h"

namespace pouch {

namespace {

struct RowMap {
  std::int64_t block_rows;  // rows of one section in the (padded) full tensor
  std::int64_t local_rows;  // rows of one section in the shard
  std::int64_t row_elems;   // elements per row
};

RowMap row_map(const ShardSpec& spec, const Shape& full) {
  POUCH_CHECK(!full.empty(), "a row-sharded tensor needs at least one dimension");
  const std::int64_t rows = spec.padded_rows > 0 ? spec.padded_rows : full[0];
  POUCH_CHECK(spec.padded_rows == 0 || (spec.sections == 1 && spec.padded_rows >= full[0]),
              "padding applies to one section of at least {} rows", full[0]);
  POUCH_CHECK(rows % spec.sections == 0, "{} rows do not form {} sections", rows, spec.sections);
  const std::int64_t block = rows / spec.sections;
  POUCH_CHECK(block % spec.ranks == 0, "{} rows per section do not split over {} ranks", block, spec.ranks);
  return {block, block / spec.ranks, full[0] > 0 ? shape_numel(full) / full[0] : 0};
}

// Calls f(full_row, local_row) for every real row this rank holds.
template <typename F>
void for_each_row(const ShardSpec& spec, const Shape& full, F&& f) {
  const RowMap m = row_map(spec, full);
  for (int s = 0; s < spec.sections; ++s)
    for (std::int64_t j = 0; j < m.local_rows; ++j) {
      const std::int64_t full_row = s * m.block_rows + spec.rank * m.local_rows + j;
      f(full_row < full[0] ? full_row : -1, s * m.local_rows + j, m.row_elems);
    }
}

}  // namespace

Shape shard_shape(const ShardSpec& spec, const Shape& full) {
  if (spec.kind == ShardSpec::Kind::Replicated || (spec.ranks == 1 && spec.padded_rows == 0)) return full;
  Shape local = full;
  if (spec.kind == ShardSpec::Kind::Rows) {
    const RowMap m = row_map(spec, full);
    local[0] = m.local_rows * spec.sections;
  } else {
    POUCH_CHECK(full.back() % spec.ranks == 0, "{} columns do not split over {} ranks", full.back(), spec.ranks);
    local.back() = full.back() / spec.ranks;
  }
  return local;
}

void copy_full_to_shard(const ShardSpec& spec, const Tensor& full, const Tensor& local) {
  POUCH_CHECK(local.shape() == shard_shape(spec, full.shape()), "shard {} does not fit full {}",
              shape_str(local.shape()), shape_str(full.shape()));
  const std::size_t f32 = sizeof(float);
  if (spec.kind == ShardSpec::Kind::Replicated || (local.numel() == full.numel() && spec.padded_rows == 0)) {
    local.copy_from(full);
  } else if (spec.kind == ShardSpec::Kind::Rows) {
    for_each_row(spec, full.shape(), [&](std::int64_t src, std::int64_t dst, std::int64_t n) {
      float* to = local.f32() + dst * n;
      if (src < 0) {
        std::memset(to, 0, static_cast<std::size_t>(n) * f32);
      } else {
        std::memcpy(to, full.f32() + src * n, static_cast<std::size_t>(n) * f32);
      }
    });
  } else {
    const std::int64_t cols = full.shape().back(), lc = cols / spec.ranks, rows = full.numel() / cols;
    for (std::int64_t i = 0; i < rows; ++i)
      std::memcpy(local.f32() + i * lc, full.f32() + i * cols + spec.rank * lc, static_cast<std::size_t>(lc) * f32);
  }
}

void copy_shard_to_full(const ShardSpec& spec, const Tensor& local, const Tensor& full) {
  POUCH_CHECK(local.shape() == shard_shape(spec, full.shape()), "shard {} does not fit full {}",
              shape_str(local.shape()), shape_str(full.shape()));
  const std::size_t f32 = sizeof(float);
  if (spec.kind == ShardSpec::Kind::Replicated || (local.numel() == full.numel() && spec.padded_rows == 0)) {
    full.copy_from(local);
  } else if (spec.kind == ShardSpec::Kind::Rows) {
    for_each_row(spec, full.shape(), [&](std::int64_t dst, std::int64_t src, std::int64_t n) {
      if (dst >= 0) std::memcpy(full.f32() + dst * n, local.f32() + src * n, static_cast<std::size_t>(n) * f32);
    });
  } else {
    const std::int64_t cols = full.shape().back(), lc = cols / spec.ranks, rows = full.numel() / cols;
    for (std::int64_t i = 0; i < rows; ++i)
      std::memcpy(full.f32() + i * cols + spec.rank * lc, local.f32() + i * lc, static_cast<std::size_t>(lc) * f32);
  }
}

void copy_full_to_shard(Backend& be, const ShardSpec& spec, const Tensor& full, const Tensor& local) {
  if (full.on_host() && local.on_host()) {
    copy_full_to_shard(spec, full, local);
    return;
  }
  Tensor full_host = full, local_host = local;
  if (!full.on_host()) {
    full_host = Tensor::empty(full.shape(), full.dtype());
    be.copy(full_host, full);
  }
  if (!local.on_host()) local_host = Tensor::empty(local.shape(), local.dtype());
  copy_full_to_shard(spec, full_host, local_host);
  if (!local.on_host()) be.copy(local, local_host);
}

}  // namespace pouch
