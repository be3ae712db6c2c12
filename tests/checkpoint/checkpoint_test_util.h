#pragma once
// Helpers shared by the checkpoint tests: a scratch directory (TempDir), file I/O, and
// running a Python snippet with Debian's /usr/bin/python3 (the interpreter
// that has h5py; a python3 earlier on PATH may not).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "tests/support/python_oracle.h"
#include "tests/support/temp_dir.h"

namespace pouch::testing {

inline constexpr const char* kSystemPython = "/usr/bin/python3";

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Writes `script` into `dir` and runs it with the given arguments; returns
// the exit code and leaves the combined output in *output.
inline int run_python(const TempDir& dir, const std::string& script, const std::string& args, std::string* output) {
  std::string script_path = dir.file("script.py");
  std::string log_path = dir.file("script.log");
  write_text(script_path, script);
  int status = std::system(fmt::format("{} '{}' {} >'{}' 2>&1", kSystemPython, script_path, args, log_path).c_str());
  *output = read_text(log_path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace pouch::testing

#define POUCH_SKIP_WITHOUT_H5PY() \
  POUCH_REQUIRE_PYTHON_MODULES(::pouch::testing::kSystemPython, "h5py, numpy", "python3-h5py python3-numpy")
