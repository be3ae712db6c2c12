#pragma once
// Splits a subcommand's arguments into config overrides (--section.key[=v])
// and the subcommand's own flags, which Boost.Program_options parses.
#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace pouch {

struct SplitArgs {
  std::vector<std::string> overrides;  // in order, each "--section.key=value" or "--section.key" "value"
  std::vector<std::string> own;        // everything else
};

SplitArgs split_config_overrides(const std::vector<std::string>& args);

// Parses `args` against `options` (no positional arguments unless given);
// unknown options are errors that name the option.
boost::program_options::variables_map parse_options(
    const std::vector<std::string>& args, const boost::program_options::options_description& options,
    const boost::program_options::positional_options_description* positional = nullptr);

}  // namespace pouch
