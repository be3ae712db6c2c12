#pragma once
// Curriculum pacing: the highest difficulty level pre-training may sample at
// optimizer step `step` (docs/data-format.md "Curriculum sampling").
//
// difficulty(step), with progress p = min(1, step / total_steps):
//   none            max_level
//   linear          min + (max - min) * p
//   root            min + (max - min) * p^(1/degree)   (degree 2: the square-root
//                   competence of Platanios et al., "Competence-based curriculum
//                   learning for neural machine translation", NAACL'19)
//   fixed_discrete  min + #{ b in boundaries : b <= step }
// max_level_at(step) = floor(difficulty(step) + 1e-9): samples of a higher
// level are not eligible yet (the epsilon keeps exact levels from rounding down).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pouch {

enum class PacingKind { None, FixedDiscrete, Linear, Root };

// "none", "fixed_discrete", "linear" or "root"; throws pouch::Error naming
// `key` and the valid names otherwise.
PacingKind parse_pacing_kind(std::string_view text, std::string_view key);
std::string_view pacing_kind_name(PacingKind kind);

struct CurriculumConfig {
  PacingKind kind = PacingKind::None;
  double min_level = 1.0;
  double max_level = 5.0;
  double degree = 2.0;                   // root only: difficulty grows as p^(1/degree)
  std::int64_t total_steps = 0;          // linear/root: the step at which difficulty reaches max_level
  std::vector<std::int64_t> boundaries;  // fixed_discrete: steps at which min+1, min+2, ... unlock (max-min of them)
};

// The config keys that errors name, so a message points at the line to fix.
struct CurriculumKeys {
  std::string kind, min_level, max_level, degree, total_steps, boundaries;
  // prefix + "curriculum", prefix + "curriculum_min_level", ...,
  // e.g. under("phase.1.") names "phase.1.curriculum_boundaries".
  static CurriculumKeys under(std::string_view prefix);
};

// Throws pouch::Error naming the key when: min_level < 0 or min_level >
// max_level (either not finite); linear/root with total_steps <= 0; root with
// degree <= 0 (not finite); fixed_discrete with a non-integer min/max level,
// boundaries.size() != max - min, a negative or descending boundary; any other
// kind given boundaries (they would be silently ignored).
void validate_curriculum(const CurriculumConfig& config, const CurriculumKeys& keys);

// "300, 600,900" -> {300, 600, 900}; "" -> {}. Throws pouch::Error naming
// `key` on an entry that is not a non-negative integer.
std::vector<std::int64_t> parse_step_list(std::string_view text, std::string_view key);

// Pacing of a validated config; step < 0 counts as 0.
double curriculum_difficulty(const CurriculumConfig& config, std::int64_t step);
int curriculum_max_level(const CurriculumConfig& config, std::int64_t step);

// One line for the log: "root(degree 2) 1->5 over 1000 steps", "fixed_discrete 1->3 at 300,600", "none (5)".
std::string describe_curriculum(const CurriculumConfig& config);

}  // namespace pouch
