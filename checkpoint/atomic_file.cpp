#include "checkpoint/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "runtime/error.h"

namespace pouch {

std::string temporary_path(const std::string& final_path) { return final_path + ".tmp"; }

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open '{}' to flush it to disk: {}", path, std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) fail("cannot flush '{}' to disk: {}: check the disk", path, std::strerror(err));
}

void publish(const std::string& tmp_path, const std::string& final_path) {
  fsync_path(tmp_path);
  if (std::rename(tmp_path.c_str(), final_path.c_str()) != 0)
    fail("cannot rename '{}' to '{}': {}", tmp_path, final_path, std::strerror(errno));
  std::filesystem::path dir = std::filesystem::path(final_path).parent_path();
  fsync_path(dir.empty() ? std::string(".") : dir.string());
}

}  // namespace pouch
