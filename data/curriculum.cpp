#include "data/curriculum.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "runtime/error.h"

namespace pouch {

namespace {

constexpr std::string_view kPacingNames = "none, fixed_discrete, linear, root";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_integer(double x) { return std::isfinite(x) && x == std::floor(x); }

std::string join_steps(const std::vector<std::int64_t>& steps) {
  std::string out;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(steps[i]);
  }
  return out;
}

}  // namespace

PacingKind parse_pacing_kind(std::string_view text, std::string_view key) {
  const std::string_view t = trim(text);
  if (t == "none") return PacingKind::None;
  if (t == "fixed_discrete") return PacingKind::FixedDiscrete;
  if (t == "linear") return PacingKind::Linear;
  if (t == "root") return PacingKind::Root;
  fail("{} = '{}' is not a curriculum pacing; use one of: {}", key, text, kPacingNames);
}

std::string_view pacing_kind_name(PacingKind kind) {
  switch (kind) {
    case PacingKind::None:
      return "none";
    case PacingKind::FixedDiscrete:
      return "fixed_discrete";
    case PacingKind::Linear:
      return "linear";
    case PacingKind::Root:
      return "root";
  }
  return "?";
}

CurriculumKeys CurriculumKeys::under(std::string_view prefix) {
  const std::string p(prefix);
  return {p + "curriculum",        p + "curriculum_min_level",   p + "curriculum_max_level",
          p + "curriculum_degree", p + "curriculum_total_steps", p + "curriculum_boundaries"};
}

void validate_curriculum(const CurriculumConfig& c, const CurriculumKeys& keys) {
  if (!std::isfinite(c.min_level) || c.min_level < 0) fail("{} = {} must be a level >= 0", keys.min_level, c.min_level);
  if (!std::isfinite(c.max_level) || c.max_level < c.min_level)
    fail("{} = {} must be at least {} = {}", keys.max_level, c.max_level, keys.min_level, c.min_level);
  if (c.kind != PacingKind::FixedDiscrete && !c.boundaries.empty())
    fail("{} is set but {} = {} does not use it; remove it or set {} = fixed_discrete", keys.boundaries, keys.kind,
         pacing_kind_name(c.kind), keys.kind);
  switch (c.kind) {
    case PacingKind::None:
      return;
    case PacingKind::Root:
      if (!std::isfinite(c.degree) || c.degree <= 0)
        fail("{} = {} must be > 0 (2 = square-root pacing, 1 = linear)", keys.degree, c.degree);
      [[fallthrough]];
    case PacingKind::Linear:
      if (c.total_steps <= 0)
        fail("{} = {} must be > 0: {} pacing reaches {} = {} at that step", keys.total_steps, c.total_steps,
             pacing_kind_name(c.kind), keys.max_level, c.max_level);
      return;
    case PacingKind::FixedDiscrete: {
      if (!is_integer(c.min_level) || !is_integer(c.max_level))
        fail("fixed_discrete pacing needs whole levels: {} = {}, {} = {}", keys.min_level, c.min_level, keys.max_level,
             c.max_level);
      const auto needed = static_cast<std::int64_t>(c.max_level - c.min_level);
      if (static_cast<std::int64_t>(c.boundaries.size()) != needed)
        fail("{} = '{}' has {} steps but levels {}..{} need {} (the steps at which levels {}..{} unlock)",
             keys.boundaries, join_steps(c.boundaries), c.boundaries.size(), c.min_level, c.max_level, needed,
             c.min_level + 1, c.max_level);
      for (std::size_t k = 0; k < c.boundaries.size(); ++k) {
        if (c.boundaries[k] < 0)
          fail("{} = '{}': step {} is negative", keys.boundaries, join_steps(c.boundaries), c.boundaries[k]);
        if (k > 0 && c.boundaries[k] < c.boundaries[k - 1])
          fail("{} = '{}' must be in ascending order ({} comes after {})", keys.boundaries, join_steps(c.boundaries),
               c.boundaries[k], c.boundaries[k - 1]);
      }
      return;
    }
  }
}

std::vector<std::int64_t> parse_step_list(std::string_view text, std::string_view key) {
  std::vector<std::int64_t> out;
  if (trim(text).empty()) return out;
  std::string_view rest = text;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || value < 0)
      fail("{} = '{}': '{}' is not a step (a non-negative integer); write e.g. 300,600,900", key, text, item);
    out.push_back(value);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

double curriculum_difficulty(const CurriculumConfig& c, std::int64_t step) {
  step = std::max<std::int64_t>(step, 0);
  switch (c.kind) {
    case PacingKind::None:
      return c.max_level;
    case PacingKind::FixedDiscrete: {
      const auto unlocked = std::upper_bound(c.boundaries.begin(), c.boundaries.end(), step) - c.boundaries.begin();
      return c.min_level + static_cast<double>(unlocked);
    }
    case PacingKind::Linear:
    case PacingKind::Root: {
      POUCH_CHECK(c.total_steps > 0, "curriculum not validated");
      const double p = std::min(1.0, static_cast<double>(step) / static_cast<double>(c.total_steps));
      const double degree = c.kind == PacingKind::Linear ? 1.0 : c.degree;
      return c.min_level + (c.max_level - c.min_level) * std::pow(p, 1.0 / degree);
    }
  }
  return c.max_level;
}

int curriculum_max_level(const CurriculumConfig& c, std::int64_t step) {
  return static_cast<int>(std::floor(curriculum_difficulty(c, step) + 1e-9));
}

std::string describe_curriculum(const CurriculumConfig& c) {
  switch (c.kind) {
    case PacingKind::None:
      return fmt::format("none (levels up to {})", c.max_level);
    case PacingKind::FixedDiscrete:
      return fmt::format("fixed_discrete {}->{} at steps {}", c.min_level, c.max_level, join_steps(c.boundaries));
    case PacingKind::Linear:
      return fmt::format("linear {}->{} over {} steps", c.min_level, c.max_level, c.total_steps);
    case PacingKind::Root:
      return fmt::format("root (degree {}) {}->{} over {} steps", c.degree, c.min_level, c.max_level, c.total_steps);
  }
  return "?";
}

}  // namespace pouch
