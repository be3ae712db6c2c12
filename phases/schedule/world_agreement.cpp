#include "phases/schedule/world_agreement.h"

namespace pouch {

int max_over_world(const TrainRanks& ranks, Backend& /*be*/, int value) {
  if (ranks.world_size == 1 || ranks.world == nullptr) return value;
  Tensor t = Tensor::empty({1}, DType::I32);
  t.i32()[0] = value;
  ranks.world->all_reduce(t, ReduceOp::Max);
  return t.i32()[0];
}

double broadcast_from_rank0(const TrainRanks& ranks, Backend& /*be*/, double value) {
  if (ranks.world_size == 1 || ranks.world == nullptr) return value;
  Tensor t = Tensor::empty({1}, DType::F64);
  t.data<double>()[0] = value;
  ranks.world->broadcast(t, 0);
  return t.data<double>()[0];
}

std::string broadcast_from_rank0(const TrainRanks& ranks, Backend& be, const std::string& bytes) {
  if (ranks.world_size == 1 || ranks.world == nullptr) return bytes;
  const auto n = static_cast<std::size_t>(broadcast_from_rank0(ranks, be, static_cast<double>(bytes.size())));
  // Sent as I32 words (the communicators carry no byte type): padded to a
  // multiple of 4 bytes, then cut back.
  std::string out = ranks.world_rank == 0 ? bytes : std::string(n, '\0');
  out.resize((n + 3) / 4 * 4, '\0');
  if (!out.empty())
    ranks.world->broadcast(Tensor::wrap(out.data(), {static_cast<std::int64_t>(out.size() / 4)}, DType::I32), 0);
  out.resize(n);
  return out;
}

std::vector<std::int32_t> broadcast_from_rank0(const TrainRanks& ranks, Backend& be,
                                               const std::vector<std::int32_t>& ids) {
  if (ranks.world_size == 1 || ranks.world == nullptr) return ids;
  const auto n = static_cast<std::size_t>(broadcast_from_rank0(ranks, be, static_cast<double>(ids.size())));
  std::vector<std::int32_t> out = ranks.world_rank == 0 ? ids : std::vector<std::int32_t>(n, 0);
  if (n > 0) ranks.world->broadcast(Tensor::wrap(out.data(), {static_cast<std::int64_t>(n)}, DType::I32), 0);
  return out;
}

}  // namespace pouch
