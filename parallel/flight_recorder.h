#pragma once
// A ring buffer of the last N collectives this rank issued, across all its
// communicators (the model: PyTorch c10d's NCCLTraceBuffer). The watchdog
// dumps it when a collective passes its deadline, so the report shows what
// this rank was doing and where each group stood. One recorder per rank,
// owned by the ParallelContext and shared by its communicators; thread-safe.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "parallel/collective_desc.h"

namespace pouch {

enum class CollectiveState { Queued, Running, Done, Failed };
const char* collective_state_name(CollectiveState state);

class FlightRecorder {
 public:
  using Clock = std::chrono::steady_clock;

  struct Entry {
    std::uint64_t id = 0;        // recorder-wide, increasing
    std::string group;           // communicator name
    std::uint64_t sequence = 0;  // on that communicator
    CollectiveDesc desc;
    CollectiveState state = CollectiveState::Queued;
    Clock::time_point queued, started, ended;  // started/ended: zero until then
    std::string error;                         // Failed only
  };

  // `rank`: this process's world rank, for the dump's heading.
  explicit FlightRecorder(int rank = 0, std::size_t capacity = 64);

  // Records a newly issued collective; returns its id for the updates below.
  // Updates to an id the ring has already dropped are ignored.
  std::uint64_t queued(const std::string& group, std::uint64_t sequence, const CollectiveDesc& desc);
  void running(std::uint64_t id);
  void done(std::uint64_t id);
  void failed(std::uint64_t id, const std::string& error);

  // The retained entries, oldest first.
  std::vector<Entry> snapshot() const;
  // Readable table of snapshot(), times relative to now.
  std::string dump() const;

  int rank() const { return rank_; }
  std::size_t capacity() const { return ring_.size(); }

 private:
  Entry* find(std::uint64_t id);

  const int rank_;
  mutable std::mutex mutex_;
  std::vector<Entry> ring_;  // slot id % capacity
  std::uint64_t next_id_ = 1;
};

}  // namespace pouch
