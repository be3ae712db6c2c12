#include "launcher/config_assign.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "launcher/key_suggestions.h"
#include "launcher/run_config_keys.h"
#include "phases/schedule/phase_keys.h"
#include "runtime/error.h"

namespace pouch {

namespace {

constexpr std::string_view kCommandLine = ConfigOrigins::kCommandLine;

PhaseConfig& phase_slot(RunConfig& config, std::int64_t index) {
  for (auto& p : config.phases)
    if (p.index == index) return p;
  PhaseConfig p;
  p.index = index;
  config.phases.push_back(p);
  std::sort(config.phases.begin(), config.phases.end(),
            [](const PhaseConfig& a, const PhaseConfig& b) { return a.index < b.index; });
  for (auto& q : config.phases)
    if (q.index == index) return q;
  POUCH_CHECK(false, "phase {} vanished", index);
  return config.phases.front();
}

std::string phase_key_names() {
  std::string out = "kind";
  for (const auto& spec : phase_key_specs()) out += fmt::format(" {}", spec.key);
  return out;
}

// "{where}: key is set twice ..." for a second setting in one layer.
void refuse_twice(const ConfigOrigins& origins, LayerKeys& seen, const std::string& name, const std::string& where) {
  if (seen.insert(name).second) return;
  if (where == kCommandLine) fail("{}: --{} is given twice: keep one", where, name);
  fail("{}: {} is set twice (at {} and {}): keep one", where, name, origins.at(name), where);
}

}  // namespace

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

void apply_option(RunConfig& config, ConfigOrigins& origins, LayerKeys& seen, const std::string& name,
                  const std::string& value, const std::string& where) {
  refuse_twice(origins, seen, name, where);
  const RunConfigKeySpec* spec = find_run_config_key(name);
  POUCH_CHECK(spec != nullptr, "Boost accepted unregistered key {}", name);
  std::string expected = assign_field(spec->field, config, value);
  if (!expected.empty()) fail("{}: {} = '{}': {}", where, name, value, expected);
  origins.set(name, where);
}

std::int64_t phase_section_index(std::string_view section, const std::string& where) {
  if (section != "phase" && !section.starts_with("phase.")) return 0;
  std::int64_t index = 0;
  const std::string_view digits = section.size() > 6 ? section.substr(6) : std::string_view();
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || index <= 0 || index > 64)
    fail("{}: [{}] is not a phase section: {}", where, section, kPhaseSectionHelp);
  return index;
}

void apply_phase_option(RunConfig& config, ConfigOrigins& origins, LayerKeys& seen, std::int64_t index,
                        const std::string& key, const std::string& value, const std::string& where) {
  const std::string name = fmt::format("phase.{}.{}", index, key);
  refuse_twice(origins, seen, name, where);
  PhaseConfig& phase = phase_slot(config, index);
  if (key == "kind") {
    try {
      phase.kind = parse_phase_kind(value, name);
    } catch (const Error& e) {
      fail("{}: {}", where, e.what());
    }
  } else {
    const PhaseKeySpec* spec = find_phase_key(key);
    if (spec == nullptr)
      fail("{}: unknown phase key '{}'{}; the keys of a [phase.N] section are: {}", where, name, suggest_phase_key(key),
           phase_key_names());
    const std::string expected = assign_field(spec->field, phase, value);
    if (!expected.empty()) fail("{}: {} = '{}': {}", where, name, value, expected);
  }
  origins.set(name, where);
}

}  // namespace pouch
