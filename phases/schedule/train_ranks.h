#pragma once
#include "parallel/communicator.h"

namespace pouch {

// Where this process sits in an SPMD run. The launcher builds it from the
// process groups (parallel/); a world of one is the default.
struct TrainRanks {
  int world_rank = 0;
  int world_size = 1;
  Communicator* world = nullptr;  // null: a world of one
  Communicator* io = nullptr;     // a second world communicator for background checkpoint writes
  Communicator* tp = nullptr;     // null or size 1: no tensor parallelism
  Communicator* dp = nullptr;     // null or size 1: no data parallelism
  int tp_size() const { return tp ? tp->size() : 1; }
  int tp_rank() const { return tp ? tp->rank() : 0; }
  int dp_size() const { return dp ? dp->size() : 1; }
  int dp_rank() const { return dp ? dp->rank() : 0; }
  bool main() const { return world_rank == 0; }
  // Communicator::host_blocks over world, tp and dp: the waits on device
  // collectives that blocked the host so far.
  std::int64_t comm_host_blocks() const {
    std::int64_t n = 0;
    for (const Communicator* c : {world, tp, dp})
      if (c) n += c->host_blocks();
    return n;
  }
};

}  // namespace pouch
