#include "runtime/error.h"

#include <cstdio>
#include <cstdlib>

namespace pouch {

void check_failed(const char* expr, const char* file, int line, const std::string& message) {
  std::fprintf(stderr, "pouch: internal check failed at %s:%d: %s%s%s\n", file, line, expr, message.empty() ? "" : ": ",
               message.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace pouch
