#pragma once
// An error that every rank raises identically, from the same inputs, before
// any communication: a parallel layout or a configuration that does not fit.
// Such an error needs no MPI_Abort to stop the job. Each rank can print it and
// exit normally with a non-zero code (MPI_Finalize included), so every rank's
// message reaches the user; abort_job would race them, killing ranks that
// have not printed yet. Catch it before pouch::Error in main.
#include <fmt/format.h>

#include <utility>

#include "runtime/error.h"

namespace pouch {

class UniformError : public Error {
 public:
  using Error::Error;
};

template <typename... Args>
[[noreturn]] void fail_uniform(fmt::format_string<Args...> format, Args&&... args) {
  throw UniformError(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace pouch
