#pragma once
// The run configuration: INI text + --section.key=value overrides -> RunConfig.
//
// Layering, later wins:
//   1. the struct defaults of RunConfig (phases/schedule/run_config.h and the headers
//      it includes);
//   2. the config files, in the order given (`--config a.ini --config b.ini`);
//      with no --config, the built-in r1-tiny config (configs/r1-tiny.ini,
//      compiled in) takes their place. A user file replaces the built-in one
//      rather than layering on it, so a key the file leaves out has its struct
//      default, not r1-tiny's value;
//   3. command-line overrides `--section.key=value` (or `--section.key value`;
//      a bare `--train.recompute` means true).
//
// Every key is `section.key` for sections [model] [train] [data] [optim]
// [log]. Nothing is ignored: an unknown section or key, a value of the wrong
// type, a key given twice in one layer, or an invalid value (non-positive
// size, d_model not divisible by heads, ...) is a pouch::Error naming the key,
// where it was set (file:line or the command line) and the fix. All of it is
// checked here, before any work starts, except the rules that depend on the
// world a run starts on (the data-parallel degree) or on the phases it runs
// (--phases with data.path): train() checks those with the same origins
// before its first step (phases/schedule/phase_validation.h).
//
// One job per file: ini_layer (INI text, file:line), override_layer (the
// command line), config_assign (one key of one layer), run_config_keys (the
// key table), key_suggestions, run_config_validation (the non-phase keys),
// config_writer (INI out), config_help (--help).
#include <string>
#include <string_view>
#include <vector>

#include "phases/schedule/config_origins.h"
#include "phases/schedule/run_config.h"

namespace pouch {

// configs/r1-tiny.ini, compiled in (see launcher/default_config.cpp.in).
extern const char* const kDefaultConfigText;

// One layer of INI text and where it came from, for messages.
struct ConfigText {
  std::string origin;  // a file path, or a description such as "built-in r1-tiny config"
  std::string text;
};

ConfigText read_config_file(const std::string& path);
ConfigText default_config_text();

// Struct defaults < texts (in order) < overrides; validates the result.
RunConfig parse_run_config(const std::vector<ConfigText>& texts, const std::vector<std::string>& overrides);

// A config and where each of its keys was set, for messages of the checks
// that run later (train()'s).
struct LoadedConfig {
  RunConfig config;
  ConfigOrigins origins;
};
LoadedConfig parse_run_config_with_origins(const std::vector<ConfigText>& texts,
                                           const std::vector<std::string>& overrides);
LoadedConfig load_run_config_with_origins(const std::vector<std::string>& config_paths,
                                          const std::vector<std::string>& overrides);

// The CLI's form: the --config paths (none = the built-in r1-tiny config),
// then the overrides.
RunConfig load_run_config(const std::vector<std::string>& config_paths, const std::vector<std::string>& overrides);

// The value checks parse_run_config runs, for a config built some other way
// (e.g. read back from a checkpoint). Messages name the key.
void validate_run_config(const RunConfig& config);

// Every key as INI text; parse_run_config({{origin, text}}, {}) gives back an
// equal RunConfig (floats are written in their shortest exact form).
std::string run_config_to_ini(const RunConfig& config);

// The key table, in section order, for help output and docs.
struct ConfigKeyInfo {
  std::string name;           // "model.layers"
  std::string type;           // "int", "uint", "float", "bool", "string", "constant|cosine"
  std::string default_value;  // the struct default (what a --config file that omits the key gets)
  std::string builtin_value;  // the value `pouch train` with no --config uses (r1-tiny)
  std::string help;
};
const std::vector<ConfigKeyInfo>& config_keys();
// The table as text for `pouch train --help`.
std::string describe_config_keys();

// Whether a command-line argument is a config override (`--section.key...`),
// so a subcommand can pass those through and parse its own flags.
bool is_config_override(std::string_view arg);

}  // namespace pouch
