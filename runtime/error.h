#pragma once
// Two tiers of checks (see DESIGN.md "Errors"):
//  - pouch::Error: a user-facing failure (bad config, bad data, bad checkpoint).
//    The message names the file, key or rank and says what to do. The CLI
//    catches it, prints it and exits non-zero.
//  - POUCH_CHECK: an internal invariant. Failing it is a bug in pouch; it
//    prints file:line and aborts. POUCH_DCHECK is the debug-only form for hot
//    loops. Never use assert() for user input: it vanishes in Release.
#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace pouch {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

[[noreturn]] void check_failed(const char* expr, const char* file, int line, const std::string& message);

}  // namespace pouch

#define POUCH_CHECK(cond, ...)                                                         \
  do {                                                                                 \
    if (!(cond)) [[unlikely]]                                                          \
      ::pouch::check_failed(#cond, __FILE__, __LINE__, ::fmt::format("" __VA_ARGS__)); \
  } while (0)

#ifdef NDEBUG
#define POUCH_DCHECK(cond, ...) \
  do {                          \
  } while (0)
#else
#define POUCH_DCHECK(cond, ...) POUCH_CHECK(cond, __VA_ARGS__)
#endif
