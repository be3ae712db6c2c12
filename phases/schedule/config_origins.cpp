#include "phases/schedule/config_origins.h"

#include <fmt/format.h>

namespace pouch {

std::string ConfigOrigins::at(std::string_view key) const {
  const auto it = where_.find(key);
  return it == where_.end() ? std::string() : it->second;
}

std::string ConfigOrigins::describe(std::string_view key) const {
  const auto it = where_.find(key);
  // A config built in code records no origins; "the default" would mislead.
  if (it == where_.end()) return where_.empty() ? "as configured" : "the default";
  if (it->second == kCommandLine) return fmt::format("set on the command line as --{}", key);
  return "set in " + it->second;
}

}  // namespace pouch
