#include "phases/alignment/alignment_step_stats.h"

#include "phases/common/evaluation.h"
#include "runtime/error.h"

namespace pouch {

std::vector<double> pack_step_stats(const AlignmentStepStats& s) {
  std::vector<double> out = s.reward_dims;
  for (const auto field : kAlignmentStepScalars) out.push_back(s.*field);
  return out;
}

AlignmentStepStats unpack_step_stats(std::span<const double> values, std::size_t dims) {
  POUCH_CHECK(values.size() == dims + kAlignmentStepScalars.size(), "{} packed step stats for {} reward dimensions",
              values.size(), dims);
  AlignmentStepStats s;
  s.reward_dims.assign(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(dims));
  std::size_t i = dims;
  for (const auto field : kAlignmentStepScalars) s.*field = values[i++];
  return s;
}

void sum_over_dp(const TrainRanks& ranks, Backend& be, AlignmentStepStats& stats) {
  std::vector<double> packed = pack_step_stats(stats);
  sum_over_dp(ranks, be, packed);
  stats = unpack_step_stats(packed, stats.reward_dims.size());
}

}  // namespace pouch
