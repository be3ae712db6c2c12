#pragma once
// Settings of the simulated device (SimBackend). The delays make ordering
// bugs visible: work that the host reads or overwrites without waiting on an
// event or synchronize() then sees stale values, as it would on a GPU.
#include <cstdint>

namespace pouch {

struct SimOptions {
  // Before each queued item the stream's worker sleeps a uniform random time
  // in [min_delay_us, max_delay_us] microseconds (0, 0: no delay).
  std::int64_t min_delay_us = 0;
  std::int64_t max_delay_us = 0;
  std::uint64_t delay_seed = 1;
  // New device allocations are filled with 0xFF bytes (NaN in every float
  // format, -1 in I32), so reading memory nothing wrote shows up.
  bool poison_allocations = true;
  // Synchronize after every op, so a failing op reports at its call
  // (CUDA_LAUNCH_BLOCKING's role).
  bool sync_each_op = false;

  // POUCH_SIM_DELAY_US=max (or min:max), POUCH_SIM_SEED=n, POUCH_SIM_SYNC=1.
  // A malformed value is an Error naming the variable.
  static SimOptions from_env();
};

}  // namespace pouch
