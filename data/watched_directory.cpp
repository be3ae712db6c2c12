#include "data/watched_directory.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "runtime/error.h"

namespace pouch {

namespace fs = std::filesystem;

namespace {

bool ends_with_any(const std::string& name, std::initializer_list<const char*> suffixes) {
  return std::any_of(suffixes.begin(), suffixes.end(), [&](const char* s) { return name.ends_with(s); });
}

// Names a writer uses for work in progress, or the markers themselves.
bool never_data(const std::string& name) {
  return name.empty() || name.front() == '.' || ends_with_any(name, {".tmp", ".part", ".partial", ".done"});
}

}  // namespace

WatchProtocol parse_watch_protocol(const std::string& text, const std::string& key) {
  if (text == "rename") return WatchProtocol::Rename;
  if (text == "done") return WatchProtocol::Done;
  fail(
      "{} = {}: must be rename (files are renamed into the directory when complete) or done (a NAME.done "
      "marker says NAME is complete)",
      key, text);
}

std::vector<std::string> list_complete_files(const std::string& dir, WatchProtocol protocol,
                                             const std::set<std::string>& known) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) fail("watched directory '{}': {}", dir, ec.message());
  std::set<std::string> names;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) fail("watched directory '{}': {}", dir, ec.message());
    names.insert(it->path().filename().string());
  }
  if (ec) fail("watched directory '{}': {}", dir, ec.message());
  std::vector<std::string> out;
  for (const std::string& name : names) {
    if (never_data(name) || known.count(name) > 0) continue;
    std::error_code type_ec;
    // is_regular_file follows symlinks; a file that vanished since the listing is skipped.
    if (!fs::is_regular_file(fs::path(dir) / name, type_ec)) continue;
    if (protocol == WatchProtocol::Done && names.count(name + ".done") == 0) continue;
    out.push_back(name);
  }
  return out;
}

}  // namespace pouch
