#pragma once
// One `key = value` of one layer (an INI file or the command line) into a
// RunConfig: the value parsed by the key's type, a key given twice in one
// layer refused, and where it came from recorded in ConfigOrigins.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "phases/schedule/config_origins.h"
#include "phases/schedule/run_config.h"

namespace pouch {

// The keys one layer has set so far (a second setting is an error).
using LayerKeys = std::set<std::string>;

// Sets `name` ("model.layers", a key Boost accepted) = value; `where` is
// "file:line" or ConfigOrigins::kCommandLine.
void apply_option(RunConfig& config, ConfigOrigins& origins, LayerKeys& seen, const std::string& name,
                  const std::string& value, const std::string& where);

// Sets phase.<index>.<key> = value, creating the phase on its first key.
void apply_phase_option(RunConfig& config, ConfigOrigins& origins, LayerKeys& seen, std::int64_t index,
                        const std::string& key, const std::string& value, const std::string& where);

// "phase.12" -> 12; 0 when `section` is not a phase section; an error for a
// malformed one such as "phase" or "phase.x".
std::int64_t phase_section_index(std::string_view section, const std::string& where);

// `s` without leading and trailing blanks (spaces, tabs, CR), as Boost trims.
std::string trim(std::string_view s);

}  // namespace pouch
