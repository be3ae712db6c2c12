#pragma once
// One small value agreed on by every rank of the world, so that all of them
// take the same branch (skip a step, stop, resume from the same checkpoint).
// A world of one needs no communicator. The values are host scalars and go
// through the host (MPI) communicator in host tensors, on any device; `be`
// is the backend of the step whose branch is agreed on (not used by the
// host path).
#include <cstdint>
#include <string>
#include <vector>

#include "phases/schedule/train_ranks.h"
#include "runtime/backend.h"

namespace pouch {

// The largest of every rank's `value`.
int max_over_world(const TrainRanks& ranks, Backend& be, int value);
// Whether any rank's flag is set.
inline bool any_rank(const TrainRanks& ranks, Backend& be, bool flag) {
  return max_over_world(ranks, be, flag ? 1 : 0) != 0;
}
// Rank 0's `value` on every rank (a double carries any step count exactly up to 2^53).
double broadcast_from_rank0(const TrainRanks& ranks, Backend& be, double value);
// Rank 0's bytes / ids on every rank (two broadcasts: the length, then the
// payload); the other ranks' arguments are ignored.
std::string broadcast_from_rank0(const TrainRanks& ranks, Backend& be, const std::string& bytes);
std::vector<std::int32_t> broadcast_from_rank0(const TrainRanks& ranks, Backend& be,
                                               const std::vector<std::int32_t>& ids);

}  // namespace pouch
