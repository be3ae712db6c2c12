#include "launcher/key_suggestions.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "launcher/run_config_keys.h"
#include "phases/schedule/phase_keys.h"

namespace pouch {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// "did you mean 'model.layers'?" or the list of valid names, for an unknown
// `name` (with or without a section).
std::string suggest_key(std::string_view name, std::string_view prefix) {
  auto dot = name.find('.');
  std::string_view section = dot == std::string_view::npos ? std::string_view() : name.substr(0, dot);
  std::string_view key = dot == std::string_view::npos ? name : name.substr(dot + 1);

  if (dot != std::string_view::npos &&
      std::find(std::begin(kConfigSections), std::end(kConfigSections), section) == std::end(kConfigSections)) {
    std::string_view best = kConfigSections[0];
    for (auto s : kConfigSections)
      if (edit_distance(section, s) < edit_distance(section, best)) best = s;
    return fmt::format(
        "unknown section [{}]; the sections are [model] [train] [data] [optim] [log] [parallel] [checkpoint]{}",
        section, edit_distance(section, best) <= 2 ? fmt::format(" (did you mean [{}]?)", best) : "");
  }

  // The same key in another section, or a key without its section; then an
  // abbreviation of a key in the same section.
  for (const auto& spec : run_config_key_specs()) {
    std::string_view spec_key = spec.name.substr(spec.name.find('.') + 1);
    if (spec_key == key) return fmt::format("did you mean '{}{}'?", prefix, spec.name);
  }
  for (const auto& spec : run_config_key_specs()) {
    if (!key.empty() && spec.name.substr(0, spec.name.find('.')) == section &&
        spec.name.substr(section.size() + 1).starts_with(key))
      return fmt::format("did you mean '{}{}'?", prefix, spec.name);
  }
  const RunConfigKeySpec* best = nullptr;
  std::size_t best_distance = 0;
  for (const auto& spec : run_config_key_specs()) {
    std::size_t d = edit_distance(name, spec.name);
    if (best == nullptr || d < best_distance) best = &spec, best_distance = d;
  }
  if (best != nullptr && best_distance <= std::max<std::size_t>(2, name.size() / 3))
    return fmt::format("did you mean '{}{}'?", prefix, best->name);

  std::string in_section;
  for (const auto& spec : run_config_key_specs())
    if (spec.name.substr(0, spec.name.find('.')) == section)
      in_section += fmt::format("{}{}", in_section.empty() ? "" : " ", spec.name.substr(dot + 1));
  if (!in_section.empty()) return fmt::format("the keys of [{}] are: {}", section, in_section);
  return "run `pouch train --help` for every key";
}

std::string suggest_phase_key(std::string_view key) {
  for (const auto& s : phase_key_specs())
    if (edit_distance(key, s.key) <= std::max<std::size_t>(2, key.size() / 3))
      return fmt::format(" (did you mean '{}'?)", s.key);
  return "";
}

}  // namespace pouch
