#include "launcher/override_layer.h"

#include <fmt/format.h>

#include <algorithm>

#include "launcher/config_assign.h"
#include "launcher/config_parser.h"
#include "launcher/key_suggestions.h"
#include "launcher/run_config_keys.h"
#include "phases/schedule/phase_keys.h"
#include "runtime/error.h"

namespace po = boost::program_options;

namespace pouch {

namespace {

constexpr std::string_view kCommandLine = ConfigOrigins::kCommandLine;

// Takes `--phase.N.key=value` / `--phase.N.key value` / a bare bool
// `--phase.N.key` out of `args` and applies them.
std::vector<std::string> apply_phase_overrides(RunConfig& config, ConfigOrigins& origins,
                                               const std::vector<std::string>& args) {
  std::vector<std::string> rest;
  LayerKeys seen;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!arg.starts_with("--phase.")) {
      rest.push_back(arg);
      continue;
    }
    const auto eq = arg.find('=');
    const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const auto last_dot = name.rfind('.');
    const std::string where(kCommandLine);
    if (last_dot == std::string::npos || last_dot < 6)
      fail("command line: --{}: write phase overrides as --phase.N.key=value ({})", name, kPhaseSectionHelp);
    const std::int64_t index = phase_section_index(std::string_view(name).substr(0, last_dot), where);
    const std::string key = name.substr(last_dot + 1);
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else {
      const PhaseKeySpec* spec = find_phase_key(key);
      const bool bare_bool =
          spec != nullptr && field_is_bool(spec->field) && (i + 1 == args.size() || args[i + 1].starts_with("--"));
      if (bare_bool) {
        value = "true";
      } else {
        if (i + 1 == args.size()) fail("command line: --{} needs a value: --{}=VALUE", name, name);
        value = args[++i];
      }
    }
    apply_phase_option(config, origins, seen, index, key, value, where);
  }
  return rest;
}

}  // namespace

void apply_override_layer(RunConfig& config, ConfigOrigins& origins, const std::vector<std::string>& all_overrides,
                          const po::options_description& desc) {
  const std::vector<std::string> overrides = apply_phase_overrides(config, origins, all_overrides);
  if (overrides.empty()) return;
  // Boost rejects an empty value after '=', but `--train.init_from=` is the
  // natural way to clear a path; pass it as `--train.init_from ""` instead.
  std::vector<std::string> args;
  for (const auto& arg : overrides) {
    const RunConfigKeySpec* spec = arg.size() > 3 && arg.back() == '='
                                       ? find_run_config_key(std::string_view(arg).substr(2, arg.size() - 3))
                                       : nullptr;
    if (spec != nullptr && !field_is_bool(spec->field)) {
      args.push_back(arg.substr(0, arg.size() - 1));
      args.emplace_back();
    } else {
      args.push_back(arg);
    }
  }

  po::parsed_options parsed(&desc);
  namespace style = po::command_line_style;
  try {
    // No abbreviations: --model.lay=4 must not silently mean model.layers.
    parsed = po::command_line_parser(args)
                 .options(desc)
                 .style(style::allow_long | style::long_allow_adjacent | style::long_allow_next)
                 .run();
  } catch (const po::unknown_option& e) {
    std::string name = e.get_option_name();
    name.erase(0, name.find_first_not_of('-'));
    name.erase(std::min(name.find('='), name.size()));
    fail("command line: unknown config key '{}' (--{}): {}", name, name, suggest_key(name, "--"));
  } catch (const po::error& e) {
    fail("command line: {}: write config overrides as --section.key=value", e.what());
  }

  LayerKeys seen;
  for (const auto& option : parsed.options) {
    if (option.string_key.empty() || option.position_key >= 0)
      fail("command line: unexpected argument '{}': write config overrides as --section.key=value",
           option.original_tokens.empty() ? std::string() : option.original_tokens[0]);
    // A bare --train.recompute arrives without a value; its implicit value is "true".
    POUCH_CHECK(option.value.size() <= 1, "override {} with {} values", option.string_key, option.value.size());
    std::string value = option.value.empty() ? "true" : option.value[0];
    apply_option(config, origins, seen, option.string_key, value, std::string(kCommandLine));
  }
}

bool is_config_override(std::string_view arg) {
  if (arg.size() < 3 || arg.substr(0, 2) != "--") return false;
  std::string_view name = arg.substr(2, arg.find('=') == std::string_view::npos ? arg.npos : arg.find('=') - 2);
  return name.find('.') != std::string_view::npos;
}

}  // namespace pouch
