#include "launcher/command_line.h"

#include "launcher/config_parser.h"

namespace pouch {

namespace po = boost::program_options;

SplitArgs split_config_overrides(const std::vector<std::string>& args) {
  SplitArgs out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (!is_config_override(args[i])) {
      out.own.push_back(args[i]);
      continue;
    }
    out.overrides.push_back(args[i]);
    // `--section.key value`: the value travels with its key.
    const bool has_value = args[i].find('=') != std::string::npos;
    if (!has_value && i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) out.overrides.push_back(args[++i]);
  }
  return out;
}

po::variables_map parse_options(const std::vector<std::string>& args, const po::options_description& options,
                                const po::positional_options_description* positional) {
  po::variables_map vm;
  po::command_line_parser parser(args);
  parser.options(options);
  if (positional) {
    parser.positional(*positional);
  } else {
    parser.positional(po::positional_options_description());
  }
  po::store(parser.run(), vm);
  po::notify(vm);
  return vm;
}

}  // namespace pouch
