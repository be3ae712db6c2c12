#pragma once
// Logging through fmt. One process-wide prefix (set once by the launcher, e.g.
// "[rank 3] ") and a verbosity; lines go to stderr so stdout stays clean for
// results (progress and final reports go to stdout explicitly).
#include <fmt/format.h>

#include <cstdio>
#include <string>

namespace pouch {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };

void set_log_prefix(std::string prefix);
// Also append every line to `path` (created with its directory); with
// `quiet_console`, only warnings and errors still reach stderr. Used for the
// ranks other than 0, whose logs go to the run directory.
void set_log_file(const std::string& path, bool quiet_console);
void set_log_level(LogLevel level);
LogLevel log_level();
void log_line(LogLevel level, const std::string& message);

template <typename... Args>
void log_info(fmt::format_string<Args...> f, Args&&... a) {
  if (log_level() <= LogLevel::Info) log_line(LogLevel::Info, fmt::format(f, std::forward<Args>(a)...));
}
template <typename... Args>
void log_warn(fmt::format_string<Args...> f, Args&&... a) {
  if (log_level() <= LogLevel::Warn) log_line(LogLevel::Warn, fmt::format(f, std::forward<Args>(a)...));
}
template <typename... Args>
void log_debug(fmt::format_string<Args...> f, Args&&... a) {
  if (log_level() <= LogLevel::Debug) log_line(LogLevel::Debug, fmt::format(f, std::forward<Args>(a)...));
}

}  // namespace pouch
