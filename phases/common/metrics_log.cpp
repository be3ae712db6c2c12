#include "phases/common/metrics_log.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "runtime/error.h"

namespace pouch {

MetricsLog::MetricsLog(const std::string& path, bool append) : path_(path) {
  const auto parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  file_ = std::fopen(path.c_str(), append ? "a" : "w");
  if (file_ == nullptr)
    fail("cannot open the metrics file {}: {} (check [log] metrics and the run directory)", path, std::strerror(errno));
}

MetricsLog& MetricsLog::operator=(MetricsLog&& o) noexcept {
  if (this != &o) {
    if (file_) std::fclose(file_);
    file_ = o.file_;
    path_ = std::move(o.path_);
    o.file_ = nullptr;
  }
  return *this;
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(const nlohmann::json& record) {
  if (!file_) return;
  const std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    fail("writing the metrics file {} failed: {}", path_, std::strerror(errno));
}

}  // namespace pouch
