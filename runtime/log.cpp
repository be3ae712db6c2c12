#include "runtime/log.h"

#include <mutex>

namespace pouch {
namespace {
std::string g_prefix;
LogLevel g_level = LogLevel::Info;
std::mutex g_mutex;
}  // namespace

void set_log_prefix(std::string prefix) { g_prefix = std::move(prefix); }
void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }

void log_line(LogLevel level, const std::string& message) {
  static const char* const kTags[] = {"debug", "info", "warn", "error"};
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stderr, "%s%s: %s\n", g_prefix.c_str(), kTags[static_cast<int>(level)], message.c_str());
  std::fflush(stderr);
}

}  // namespace pouch
