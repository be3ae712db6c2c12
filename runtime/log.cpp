#include "runtime/log.h"

#include <cstdio>
#include <filesystem>
#include <mutex>

namespace pouch {
namespace {
std::string g_prefix;
LogLevel g_level = LogLevel::Info;
std::mutex g_mutex;
std::FILE* g_file = nullptr;
bool g_quiet_console = false;
}  // namespace

void set_log_prefix(std::string prefix) { g_prefix = std::move(prefix); }
void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }

void set_log_file(const std::string& path, bool quiet_console) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (g_file) std::fclose(g_file);
  g_file = std::fopen(path.c_str(), "a");
  g_quiet_console = quiet_console && g_file != nullptr;
}

void log_line(LogLevel level, const std::string& message) {
  static const char* const kTags[] = {"debug", "info", "warn", "error"};
  std::lock_guard<std::mutex> lock(g_mutex);
  const char* tag = kTags[static_cast<int>(level)];
  if (!g_quiet_console || level >= LogLevel::Warn) {
    std::fprintf(stderr, "%s%s: %s\n", g_prefix.c_str(), tag, message.c_str());
    std::fflush(stderr);
  }
  if (g_file) {
    std::fprintf(g_file, "%s%s: %s\n", g_prefix.c_str(), tag, message.c_str());
    std::fflush(g_file);
  }
}

}  // namespace pouch
