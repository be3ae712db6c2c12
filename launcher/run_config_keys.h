#pragma once
// The keys of the sections [model] [train] [data] [optim] [log] [parallel]
// [checkpoint] [runtime]: each key's field in RunConfig and its help text, in section
// order. One table serves reading (the INI and command-line layers), writing
// (run_config_to_ini), help output and the messages that name a key.
#include <boost/program_options.hpp>
#include <string_view>
#include <vector>

#include "phases/schedule/config_field.h"
#include "phases/schedule/run_config.h"

namespace pouch {

struct RunConfigKeySpec {
  std::string_view name;  // "model.layers"
  ConfigField<RunConfig> field;
  std::string_view help;
};

const std::vector<RunConfigKeySpec>& run_config_key_specs();
const RunConfigKeySpec* find_run_config_key(std::string_view name);

inline constexpr std::string_view kConfigSections[] = {"model", "train",    "data",       "optim",
                                                       "log",   "parallel", "checkpoint", "runtime"};

// The table as Boost options (every value a string, bools with an implicit
// "true"), for Boost's INI and command-line parsers.
boost::program_options::options_description run_config_options();

}  // namespace pouch
