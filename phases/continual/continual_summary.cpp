#include "phases/continual/continual_summary.h"

#include <fmt/format.h>

#include <algorithm>

#include "runtime/error.h"

namespace pouch {

ContinualSummary summarize_continual(const std::vector<LevelAccuracy>& before, const std::vector<LevelAccuracy>& after,
                                     int new_level) {
  POUCH_CHECK(before.size() == after.size(), "continual summary: {} levels before, {} after", before.size(),
              after.size());
  ContinualSummary s;
  s.new_task.level = new_level;
  for (std::size_t i = 0; i < before.size(); ++i) {
    POUCH_CHECK(before[i].level == after[i].level, "continual summary: level {} vs {}", before[i].level,
                after[i].level);
    const ContinualSummary::Level l{before[i].level, 100.0 * before[i].accuracy(), 100.0 * after[i].accuracy()};
    if (l.level == new_level)
      s.new_task = l;
    else
      s.old_levels.push_back(l);
  }
  if (!s.old_levels.empty()) {
    for (const auto& l : s.old_levels) {
      s.bwt += l.after - l.before;
      s.forgetting += std::max(0.0, l.before - l.after);
    }
    s.bwt /= static_cast<double>(s.old_levels.size());
    s.forgetting /= static_cast<double>(s.old_levels.size());
  }
  return s;
}

std::string format_continual_summary(const ContinualSummary& s) {
  std::string out =
      fmt::format("new task L{} {:.0f}% -> {:.0f}% | old", s.new_task.level, s.new_task.before, s.new_task.after);
  for (std::size_t i = 0; i < s.old_levels.size(); ++i)
    out += fmt::format("{} L{} {:.0f}% -> {:.0f}%", i == 0 ? "" : ",", s.old_levels[i].level, s.old_levels[i].before,
                       s.old_levels[i].after);
  out += fmt::format(" | forgetting {:.1f} pts | BWT {:+.1f} pts", s.forgetting, s.bwt);
  return out;
}

void add_continual_summary_fields(nlohmann::json& line, const ContinualSummary& s) {
  line["continual_new_acc_before"] = s.new_task.before;
  line["continual_new_acc_after"] = s.new_task.after;
  for (const auto& l : s.old_levels) {
    line[fmt::format("continual_old_acc_l{}_before", l.level)] = l.before;
    line[fmt::format("continual_old_acc_l{}_after", l.level)] = l.after;
  }
  line["continual_forgetting"] = s.forgetting;
  line["continual_bwt"] = s.bwt;
}

}  // namespace pouch
