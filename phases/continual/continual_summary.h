#pragma once
// What a continual-learning phase did to the model, from its evaluations at
// the phase's start (before) and end (after), in accuracy points (0..100):
//
//   new task      acc_new(after)  vs  acc_new(before)
//   BWT           = (1/|O|) Σ_{l ∈ O} (acc_l(after) − acc_l(before))   signed
//                   (backward transfer, Lopez-Paz & Ranzato 2017, GEM)
//   forgetting    = (1/|O|) Σ_{l ∈ O} max(0, acc_l(before) − acc_l(after))
//                   (drops only: a gain on one old level does not hide a
//                   drop on another)
//
// O = the old levels 1..data.task_max_level.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "phases/common/task_eval.h"

namespace pouch {

struct ContinualSummary {
  struct Level {
    int level = 0;
    double before = 0.0, after = 0.0;  // points
  };
  Level new_task;
  std::vector<Level> old_levels;
  double forgetting = 0.0;  // points, >= 0
  double bwt = 0.0;         // points, signed
};

// `before`/`after`: the same levels in the same order (the new level among
// them); every other level counts as old.
ContinualSummary summarize_continual(const std::vector<LevelAccuracy>& before, const std::vector<LevelAccuracy>& after,
                                     int new_level);

// "new task L6 4% -> 81% | old L1 96% -> 94%, ... | forgetting 1.2 pts | BWT -1.0 pts"
std::string format_continual_summary(const ContinualSummary& s);

// continual_new_acc_before/_after, continual_old_acc_l<k>_before/_after,
// continual_forgetting, continual_bwt (points).
void add_continual_summary_fields(nlohmann::json& line, const ContinualSummary& s);

}  // namespace pouch
