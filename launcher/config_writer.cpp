// run_config_to_ini: a RunConfig as INI text that reads back to an equal one.
#include <fmt/format.h>

#include "launcher/config_parser.h"
#include "launcher/run_config_keys.h"
#include "phases/schedule/phase_keys.h"

namespace pouch {

std::string run_config_to_ini(const RunConfig& config) {
  std::string out;
  std::string_view section;
  for (const auto& spec : run_config_key_specs()) {
    auto dot = spec.name.find('.');
    if (spec.name.substr(0, dot) != section) {
      section = spec.name.substr(0, dot);
      out += fmt::format("{}[{}]\n", out.empty() ? "" : "\n", section);
    }
    // A schedule's length is its phases' steps; train.steps would conflict.
    if (spec.name == "train.steps" && !config.phases.empty()) continue;
    std::string value = format_field(spec.field, config);
    out += fmt::format("{} ={}{}\n", spec.name.substr(dot + 1), value.empty() ? "" : " ", value);
  }
  // Every key of the phase's kind, so the text reads back to an equal config.
  for (const PhaseConfig& phase : config.phases) {
    out += fmt::format("\n[phase.{}]\nkind = {}\n", phase.index, phase_kind_name(phase.kind));
    for (const auto& spec : phase_key_specs()) {
      if (!phase_key_applies(spec, phase.kind)) continue;
      std::string value = format_field(spec.field, phase);
      out += fmt::format("{} ={}{}\n", spec.key, value.empty() ? "" : " ", value);
    }
  }
  return out;
}

}  // namespace pouch
