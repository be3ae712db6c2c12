#pragma once
// One INI layer (a --config file or the built-in r1-tiny text) into a
// RunConfig, each key's origin recorded as file:line.
#include <boost/program_options.hpp>

#include "launcher/config_parser.h"
#include "phases/schedule/config_origins.h"

namespace pouch {

// Boost's rules: '#' starts a comment anywhere, `[section]` prefixes the keys
// below it; a malformed line, an unknown key or a key set twice is an error
// naming file:line. `desc` is run_config_options().
void apply_ini_layer(RunConfig& config, ConfigOrigins& origins, ConfigText source,
                     const boost::program_options::options_description& desc);

}  // namespace pouch
