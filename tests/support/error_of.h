#pragma once
// The message of the pouch::Error a call throws, for tests of user-facing
// errors (which must name the key, file or rank and the fix).
#include <gtest/gtest.h>

#include <string>

#include "runtime/error.h"

namespace pouch {

// The message of the pouch::Error thrown by `fn`, or "" and a test failure
// when it throws none.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a pouch::Error";
  return "";
}

}  // namespace pouch
