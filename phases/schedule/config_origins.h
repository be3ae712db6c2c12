#pragma once
// Where each config key of a RunConfig was last set: "file.ini:12" for a line
// of an INI file, or the command line. The launcher records it while it reads
// the layers; validation (phases/schedule/phase_validation.h and the
// launcher's checks of the other keys) names it in every message, so a user
// sees which line or flag to change. A key in no layer has its struct default;
// a config built in code has no origins at all.
#include <map>
#include <string>
#include <string_view>

namespace pouch {

class ConfigOrigins {
 public:
  // The origin of a key given as a command-line flag.
  static constexpr std::string_view kCommandLine = "command line";

  // `key` is "model.layers" or "phase.2.minibatches"; `where` is "file:line"
  // or kCommandLine.
  void set(const std::string& key, const std::string& where) { where_[key] = where; }
  bool has(std::string_view key) const { return where_.find(std::string(key)) != where_.end(); }
  bool empty() const { return where_.empty(); }
  // "file:line", kCommandLine, or "" for a key no layer set.
  std::string at(std::string_view key) const;
  // For messages: "set in file.ini:12", "set on the command line as
  // --phase.2.minibatches", or "the default".
  std::string describe(std::string_view key) const;
  const std::map<std::string, std::string, std::less<>>& all() const { return where_; }

 private:
  std::map<std::string, std::string, std::less<>> where_;
};

}  // namespace pouch
