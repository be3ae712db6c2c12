#pragma once
// Tests against a Python reference (PyTorch, h5py) need modules of the system
// interpreter. Without them such a test skips, naming the packages to install,
// except in CI (the environment variable CI set and not empty, as CI services
// set it): .ci/run installs those packages (scripts/setup.sh), so a missing
// module there means a broken environment, and a skip would let CI pass
// without the oracle ever running. tests/oracle/cli_order_oracle.py follows
// the same rule.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace pouch::testing {

// Whether `python` imports `modules` (as written in an import statement:
// "torch, h5py").
inline bool python_imports(const std::string& python, const std::string& modules) {
  const std::string cmd = python + " -c 'import " + modules + "' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

inline bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && ci[0] != '\0';
}

// Why a test needing `modules` cannot run, or "" when `python` imports them.
inline std::string missing_python_modules(const std::string& python, const std::string& modules,
                                          const std::string& packages) {
  if (python_imports(python, modules)) return "";
  return python + " cannot import " + modules + " (apt install " + packages + ")";
}

}  // namespace pouch::testing

// In a test body or SetUp(): when `python` cannot import `modules`, returns
// from it, skipping the test, or failing it when running in CI. `packages`
// names the Debian packages that provide the modules.
#define POUCH_REQUIRE_PYTHON_MODULES(python, modules, packages)                                             \
  do {                                                                                                      \
    const std::string pouch_missing_ = ::pouch::testing::missing_python_modules(python, modules, packages); \
    if (!pouch_missing_.empty()) {                                                                          \
      if (::pouch::testing::running_in_ci())                                                                \
        FAIL() << pouch_missing_                                                                            \
               << ": CI is set and .ci/run installs them, so the environment is broken (not skipped)";      \
      GTEST_SKIP() << pouch_missing_;                                                                       \
    }                                                                                                       \
  } while (0)
