// The layers in order (struct defaults < INI texts < command line), then the
// checks of the result.
#include "launcher/config_parser.h"

#include "launcher/ini_layer.h"
#include "launcher/override_layer.h"
#include "launcher/run_config_keys.h"
#include "launcher/run_config_validation.h"
#include "phases/schedule/phase_validation.h"

namespace pouch {

LoadedConfig parse_run_config_with_origins(const std::vector<ConfigText>& texts,
                                           const std::vector<std::string>& overrides) {
  const auto desc = run_config_options();
  LoadedConfig out;
  for (const auto& text : texts) apply_ini_layer(out.config, out.origins, text, desc);
  apply_override_layer(out.config, out.origins, overrides, desc);
  validate_run_config_keys(out.config, out.origins);
  // The rules the world's layout and the phases run do not enter; train()
  // checks the rest before its first step.
  validate_schedule(out.config, out.origins);
  return out;
}

RunConfig parse_run_config(const std::vector<ConfigText>& texts, const std::vector<std::string>& overrides) {
  return parse_run_config_with_origins(texts, overrides).config;
}

LoadedConfig load_run_config_with_origins(const std::vector<std::string>& config_paths,
                                          const std::vector<std::string>& overrides) {
  std::vector<ConfigText> texts;
  if (config_paths.empty()) texts.push_back(default_config_text());
  for (const auto& path : config_paths) texts.push_back(read_config_file(path));
  return parse_run_config_with_origins(texts, overrides);
}

RunConfig load_run_config(const std::vector<std::string>& config_paths, const std::vector<std::string>& overrides) {
  return load_run_config_with_origins(config_paths, overrides).config;
}

void validate_run_config(const RunConfig& config) {
  validate_run_config_keys(config, {});
  validate_schedule(config, {});
}

}  // namespace pouch
