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

}  // namespace pouch
