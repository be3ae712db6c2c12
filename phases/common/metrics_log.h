#pragma once
// Metrics as JSON lines, one object per optimizer step, appended and flushed
// so a crashed run keeps every completed step and `tail -f` works.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace pouch {

class MetricsLog {
 public:
  MetricsLog() = default;
  // Opens (truncating unless `append`) the file; creates parent directories.
  MetricsLog(const std::string& path, bool append);
  MetricsLog(MetricsLog&& o) noexcept : file_(o.file_), path_(std::move(o.path_)) { o.file_ = nullptr; }
  MetricsLog& operator=(MetricsLog&& o) noexcept;
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  ~MetricsLog();

  void write(const nlohmann::json& record);
  const std::string& path() const { return path_; }

 private:
  std::FILE* file_ = nullptr;
  std::string path_;
};

}  // namespace pouch
