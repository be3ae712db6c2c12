#pragma once
// Wall time for step timings and logs (steady: immune to clock changes).
#include <chrono>

namespace pouch {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace pouch
