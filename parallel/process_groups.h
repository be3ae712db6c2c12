#pragma once
// The (tp, dp) layout of ranks, as pure functions (STYLE 10: rank and world
// size are parameters, so every layout is testable in one process).
//
// tp groups are consecutive ranks, [d*tp, (d+1)*tp): launchers place
// consecutive ranks on the same node, so tensor parallelism, which talks on
// every layer, stays on a node. dp groups stride across them,
// {t, t+tp, t+2tp, ...}: the same tp shard on every data-parallel replica.
//   world 8, tp 2, dp 4:  tp groups {0,1} {2,3} {4,5} {6,7}
//                         dp groups {0,2,4,6} {1,3,5,7}
//   rank r: tp_rank = r % tp, dp_rank = r / tp.
#include <cstdint>
#include <vector>

namespace pouch {

struct GroupLayout {
  int world_size = 1, tp = 1, dp = 1;
  int rank = 0, tp_rank = 0, dp_rank = 0;
  std::vector<int> tp_members;  // world ranks of my tp group, by tp_rank
  std::vector<int> dp_members;  // world ranks of my dp group, by dp_rank
};

// dp as configured, or world_size / tp when dp is 0 ("derive it").
// Throws like validate_layout (UniformError) when tp does not divide the world.
int resolve_dp(int world_size, int tp, int dp);

// Refuses, with one message that is the same on every rank (it names no
// rank), a layout that cannot work: tp < 1, dp < 0, tp x dp != world size,
// heads % tp != 0 (each tp rank holds whole heads), (4 * d_model) % tp != 0
// (the MLP's hidden width is split by tp). Throws pouch::Error naming the
// keys (parallel.tp, parallel.dp, model.heads, model.d_model) and the fix, as
// a UniformError (uniform_error.h): every rank refuses alike, none need abort.
void validate_layout(int world_size, int tp, int dp, std::int64_t heads, std::int64_t d_model);

// The groups of `rank` (0 <= rank < world_size). Checks tp x dp only (not
// the model): call validate_layout first where the model is known.
GroupLayout compute_layout(int world_size, int tp, int dp, int rank);

}  // namespace pouch
