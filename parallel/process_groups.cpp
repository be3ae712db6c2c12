#include "parallel/process_groups.h"

#include <fmt/format.h>

#include <string>

#include "parallel/uniform_error.h"

namespace pouch {

namespace {

std::string divisors(std::int64_t n) {
  std::string s;
  for (std::int64_t d = 1; d <= n; ++d)
    if (n % d == 0) s += (s.empty() ? "" : ", ") + std::to_string(d);
  return s;
}

std::string world_hint(int world_size) {
  return world_size == 1 ? "1 (no launcher: start pouch with e.g. `mpirun -np 4 pouch ...` for more ranks)"
                         : std::to_string(world_size);
}

void check_world(int world_size, int tp, int dp) {
  if (static_cast<std::int64_t>(tp) * dp != world_size)
    fail_uniform(
        "parallel.tp = {} x parallel.dp = {} = {} ranks, but the world size is {}: make tp x dp equal the number of "
        "ranks, or leave parallel.dp out to derive it",
        tp, dp, static_cast<std::int64_t>(tp) * dp, world_hint(world_size));
}

}  // namespace

int resolve_dp(int world_size, int tp, int dp) {
  if (tp < 1) fail_uniform("parallel.tp = {} must be at least 1", tp);
  if (dp < 0)
    fail_uniform("parallel.dp = {} must be at least 1 (or 0 / left out: derived as world size / parallel.tp)", dp);
  if (dp > 0) return dp;
  if (world_size % tp != 0)
    fail_uniform(
        "parallel.tp = {} does not divide the world size {}: choose parallel.tp among {}, or start a multiple of {} "
        "ranks",
        tp, world_hint(world_size), divisors(world_size), tp);
  return world_size / tp;
}

void validate_layout(int world_size, int tp, int dp, std::int64_t heads, std::int64_t d_model) {
  const int resolved = resolve_dp(world_size, tp, dp);
  check_world(world_size, tp, resolved);
  if (heads % tp != 0)
    fail_uniform(
        "model.heads = {} is not divisible by parallel.tp = {}: each tensor-parallel rank holds whole attention "
        "heads; choose parallel.tp among the divisors of {}: {}",
        heads, tp, heads, divisors(heads));
  if ((4 * d_model) % tp != 0)
    fail_uniform(
        "4 x model.d_model = {} (the MLP width) is not divisible by parallel.tp = {}: choose parallel.tp among the "
        "divisors of {}",
        4 * d_model, tp, 4 * d_model);
}

GroupLayout compute_layout(int world_size, int tp, int dp, int rank) {
  const int resolved = resolve_dp(world_size, tp, dp);
  check_world(world_size, tp, resolved);
  POUCH_CHECK(rank >= 0 && rank < world_size, "rank {} outside a world of {}", rank, world_size);
  GroupLayout g;
  g.world_size = world_size;
  g.tp = tp;
  g.dp = resolved;
  g.rank = rank;
  g.tp_rank = rank % tp;
  g.dp_rank = rank / tp;
  for (int t = 0; t < tp; ++t) g.tp_members.push_back(g.dp_rank * tp + t);
  for (int d = 0; d < resolved; ++d) g.dp_members.push_back(d * tp + g.tp_rank);
  return g;
}

}  // namespace pouch
