#pragma once
// A fresh directory under the system temp dir, named after the running test,
// removed with its contents: the scratch space of every test that writes
// files.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

namespace pouch::testing {

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string tag = info != nullptr ? fmt::format("{}-{}", info->test_suite_name(), info->name()) : "test";
    path_ = std::filesystem::temp_directory_path() / fmt::format("pouch-{}-{}-{}", tag, ::getpid(), counter++);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The path of `name` inside (a file or a directory; nothing is created).
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string sub(const std::string& name) const { return file(name); }
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

  // Writes `bytes` to the file `name` inside; returns its path.
  std::string write(const std::string& name, const std::string& bytes) const {
    std::ofstream(file(name), std::ios::binary) << bytes;
    return file(name);
  }

 private:
  std::filesystem::path path_;
};

}  // namespace pouch::testing
