#pragma once
// The command-line layer: `--section.key=value`, `--section.key value`, a
// bare `--section.key` for a bool, and the same for `--phase.N.key`; each
// key's origin recorded as the command line.
#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "phases/schedule/config_origins.h"
#include "phases/schedule/run_config.h"

namespace pouch {

// No abbreviations (--model.lay must not mean model.layers); an unknown key,
// a key given twice or a stray argument is an error. `desc` is
// run_config_options().
void apply_override_layer(RunConfig& config, ConfigOrigins& origins, const std::vector<std::string>& overrides,
                          const boost::program_options::options_description& desc);

}  // namespace pouch
