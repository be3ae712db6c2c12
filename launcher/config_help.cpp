// The key tables as help text (`pouch train --help`) and as a list for docs.
#include <fmt/format.h>

#include <algorithm>

#include "launcher/config_parser.h"
#include "launcher/run_config_keys.h"
#include "phases/schedule/phase_keys.h"

namespace pouch {

const std::vector<ConfigKeyInfo>& config_keys() {
  static const std::vector<ConfigKeyInfo> keys = [] {
    RunConfig defaults;
    RunConfig builtin = parse_run_config({default_config_text()}, {});
    std::vector<ConfigKeyInfo> out;
    for (const auto& spec : run_config_key_specs())
      out.push_back({std::string(spec.name), field_type_name(spec.field), format_field(spec.field, defaults),
                     format_field(spec.field, builtin), std::string(spec.help)});
    return out;
  }();
  return keys;
}

std::string describe_config_keys() {
  std::string out =
      "Config keys: set them in an INI file ([section] then key = value) or on the command line as\n"
      "--section.key=value (later wins: struct defaults < --config files, or the built-in r1-tiny config\n"
      "when none is given < command line). 'default' is what a --config file that omits the key gets;\n"
      "'r1-tiny' is shown where the built-in config differs.\n";
  std::string_view section;
  for (const auto& key : config_keys()) {
    std::string_view name = key.name;
    auto dot = name.find('.');
    if (name.substr(0, dot) != section) {
      section = name.substr(0, dot);
      out += fmt::format("\n[{}]\n", section);
    }
    std::string value = key.default_value.empty() ? "\"\"" : key.default_value;
    if (key.builtin_value != key.default_value)
      value += fmt::format(", r1-tiny {}", key.builtin_value.empty() ? "\"\"" : key.builtin_value);
    // Padding by hand: GCC 12 warns falsely inside fmt 9's parser of "{:<N}".
    const std::string indent(30, ' ');
    std::string label = "  " + key.name;
    label.resize(std::max(label.size() + 1, indent.size()), ' ');
    out += fmt::format("{}{}\n{}({}, default {})\n", label, key.help, indent, key.type, value);
  }
  out +=
      "\n[phase.N] sections: the run's schedule, run in order (N = 1, 2, ...). Without them the run is one\n"
      "pretrain phase of train.steps steps. kind and steps are required; other keys belong to the kinds shown.\n"
      "Override on the command line as --phase.N.key=value.\n";
  const std::string indent(30, ' ');
  out += fmt::format("  kind{}pretrain, ppo, grpo or continual\n", std::string(indent.size() - 6, ' '));
  const PhaseConfig defaults;
  for (const auto& spec : phase_key_specs()) {
    std::string label = fmt::format("  {}", spec.key);
    label.resize(std::max(label.size() + 1, indent.size()), ' ');
    std::string value = format_field(spec.field, defaults);
    out += fmt::format("{}{}\n{}({}, {}, default {})\n", label, spec.help, indent, field_type_name(spec.field),
                       phase_kinds_text(spec.kinds), value.empty() ? "\"\"" : value);
  }
  return out;
}

}  // namespace pouch
