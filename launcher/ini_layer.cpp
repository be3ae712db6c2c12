#include "launcher/ini_layer.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>
#include <vector>

#include "launcher/config_assign.h"
#include "launcher/key_suggestions.h"
#include "runtime/error.h"

namespace po = boost::program_options;

namespace pouch {

namespace {

// Boost's INI parser reports neither line numbers nor, for a bad line, what
// is wrong with it; this pass over the same text (with Boost's rules: '#'
// starts a comment anywhere, `[section]` prefixes the keys below it) finds
// the line of every key and rejects malformed lines.
std::map<std::string, std::vector<int>> scan_lines(const ConfigText& source) {
  std::map<std::string, std::vector<int>> lines;
  std::istringstream in(source.text);
  std::string section;
  int number = 0;
  for (std::string raw; std::getline(in, raw);) {
    ++number;
    std::string line = trim(std::string_view(raw).substr(0, raw.find('#')));
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']' || line.size() < 3)
        fail(
            "{}:{}: '{}' is not a section header: write it as [model], [train], [data], [optim], [log], [parallel] or "
            "[checkpoint]",
            source.origin, number, line);
      section = line.substr(1, line.size() - 2);  // untrimmed, as Boost does
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string::npos)
      fail("{}:{}: '{}' is neither 'key = value' nor '[section]' (comments start with #)", source.origin, number, line);
    std::string key = trim(std::string_view(line).substr(0, eq));
    if (key.empty()) fail("{}:{}: '{}' has no key before '='", source.origin, number, line);
    lines[section.empty() ? key : section + "." + key].push_back(number);
  }
  return lines;
}

// [phase.N] sections: Boost never sees them, since which keys a phase
// accepts depends on its kind; they are read here (same line rules) and
// checked against the kind once every layer is applied
// (phases/schedule/phase_validation.h).
//
// Moves the lines of [phase.N] sections out of `source` (blanking them, so
// Boost's line count is unchanged) and applies them.
void apply_phase_sections(RunConfig& config, ConfigOrigins& origins, ConfigText& source) {
  std::istringstream in(source.text);
  std::string rest, section;
  std::int64_t index = 0;
  int number = 0;
  LayerKeys seen;
  for (std::string raw; std::getline(in, raw);) {
    ++number;
    const std::string where = fmt::format("{}:{}", source.origin, number);
    const std::string line = trim(std::string_view(raw).substr(0, raw.find('#')));
    if (!line.empty() && line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
      index = phase_section_index(section, where);
    }
    if (index == 0) {
      rest += raw + "\n";
      continue;
    }
    rest += "\n";
    const auto eq = line.find('=');
    if (line.empty() || line.front() == '[' || eq == std::string::npos) continue;  // scan_lines reports bad lines
    apply_phase_option(config, origins, seen, index, trim(std::string_view(line).substr(0, eq)),
                       trim(std::string_view(line).substr(eq + 1)), where);
  }
  source.text = rest;
}

}  // namespace

ConfigText read_config_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail("config file '{}' does not exist: check the --config path", path);
  if (std::filesystem::is_directory(path, ec)) fail("config file '{}' is a directory: give an .ini file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read config file '{}': check its permissions", path);
  std::ostringstream text;
  text << in.rdbuf();
  return {path, text.str()};
}

ConfigText default_config_text() { return {"built-in r1-tiny config", kDefaultConfigText}; }

void apply_ini_layer(RunConfig& config, ConfigOrigins& origins, ConfigText source,
                     const po::options_description& desc) {
  // Editors on Windows may start a UTF-8 file with a byte-order mark.
  if (source.text.starts_with("\xEF\xBB\xBF")) source.text.erase(0, 3);
  auto lines = scan_lines(source);
  apply_phase_sections(config, origins, source);
  auto line_of = [&](const std::string& name, std::size_t occurrence = 0) {
    auto it = lines.find(name);
    if (it == lines.end() || it->second.empty()) return source.origin;
    return fmt::format("{}:{}", source.origin, it->second[std::min(occurrence, it->second.size() - 1)]);
  };

  std::istringstream in(source.text);
  po::parsed_options parsed(&desc);
  try {
    parsed = po::parse_config_file(in, desc, /*allow_unregistered=*/false);
  } catch (const po::unknown_option& e) {
    std::string name = e.get_option_name();
    fail("{}: unknown config key '{}': {}", line_of(name), name, suggest_key(name, ""));
  } catch (const po::error& e) {
    fail("{}: cannot read the config: {}", source.origin, e.what());
  }

  LayerKeys seen;
  std::map<std::string, std::size_t> occurrences;
  for (const auto& option : parsed.options) {
    POUCH_CHECK(option.value.size() == 1, "config option {} with {} values", option.string_key, option.value.size());
    apply_option(config, origins, seen, option.string_key, option.value[0],
                 line_of(option.string_key, occurrences[option.string_key]++));
  }
}

}  // namespace pouch
