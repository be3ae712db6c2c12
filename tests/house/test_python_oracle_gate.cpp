// POUCH_REQUIRE_PYTHON_MODULES (tests/support/python_oracle.h): a test whose
// Python reference cannot run skips outside CI and fails in CI, where a
// missing module means a broken environment.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <optional>
#include <string>

#include "tests/support/python_oracle.h"

namespace pouch::testing {
namespace {

constexpr const char* kNoSuchModule = "pouch_no_such_module_for_this_test";

// Sets (or, with nullopt, unsets) CI for the scope, restoring it after.
class ScopedCi {
 public:
  explicit ScopedCi(std::optional<std::string> value) {
    if (const char* old = std::getenv("CI")) old_ = old;
    if (value)
      setenv("CI", value->c_str(), 1);
    else
      unsetenv("CI");
  }
  ~ScopedCi() {
    if (old_)
      setenv("CI", old_->c_str(), 1);
    else
      unsetenv("CI");
  }

 private:
  std::optional<std::string> old_;
};

void require_missing_module() { POUCH_REQUIRE_PYTHON_MODULES("/usr/bin/python3", kNoSuchModule, "nothing"); }
void require_present_module() { POUCH_REQUIRE_PYTHON_MODULES("/usr/bin/python3", "os", "python3"); }

// Runs `require` with its skip or failure reported into *results, not into
// this test's own result.
void capture(void (*require)(), ::testing::TestPartResultArray* results) {
  ::testing::ScopedFakeTestPartResultReporter reporter(
      ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, results);
  require();
}

TEST(PythonOracleGate, MissingModuleSkipsOutsideCi) {
  for (const auto& ci : {std::optional<std::string>{}, std::optional<std::string>{""}}) {
    ScopedCi scope(ci);
    ::testing::TestPartResultArray results;
    capture(require_missing_module, &results);
    ASSERT_EQ(results.size(), 1);
    EXPECT_TRUE(results.GetTestPartResult(0).skipped());
    EXPECT_NE(std::string(results.GetTestPartResult(0).message()).find(kNoSuchModule), std::string::npos);
  }
}

TEST(PythonOracleGate, MissingModuleFailsInCi) {
  ScopedCi scope("true");
  ::testing::TestPartResultArray results;
  capture(require_missing_module, &results);
  ASSERT_EQ(results.size(), 1);
  EXPECT_TRUE(results.GetTestPartResult(0).fatally_failed());
  const std::string message = results.GetTestPartResult(0).message();
  EXPECT_NE(message.find(kNoSuchModule), std::string::npos) << message;
  EXPECT_NE(message.find("CI is set"), std::string::npos) << message;
}

TEST(PythonOracleGate, PresentModuleNeitherSkipsNorFails) {
  ScopedCi scope("true");
  ::testing::TestPartResultArray results;
  capture(require_present_module, &results);
  EXPECT_EQ(results.size(), 0);
}

}  // namespace
}  // namespace pouch::testing
