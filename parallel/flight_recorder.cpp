#include "parallel/flight_recorder.h"

#include <fmt/format.h>

#include "runtime/error.h"

namespace pouch {

const char* collective_state_name(CollectiveState state) {
  switch (state) {
    case CollectiveState::Queued:
      return "queued";
    case CollectiveState::Running:
      return "running";
    case CollectiveState::Done:
      return "done";
    case CollectiveState::Failed:
      return "FAILED";
  }
  return "?";
}

FlightRecorder::FlightRecorder(int rank, std::size_t capacity) : rank_(rank), ring_(capacity) {
  POUCH_CHECK(capacity > 0, "a flight recorder needs room for at least one entry");
}

std::uint64_t FlightRecorder::queued(const std::string& group, std::uint64_t sequence, const CollectiveDesc& desc) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::uint64_t id = next_id_++;
  Entry& e = ring_[id % ring_.size()];
  e = Entry{};
  e.id = id;
  e.group = group;
  e.sequence = sequence;
  e.desc = desc;
  e.queued = Clock::now();
  return id;
}

FlightRecorder::Entry* FlightRecorder::find(std::uint64_t id) {
  Entry& e = ring_[id % ring_.size()];
  return e.id == id ? &e : nullptr;
}

void FlightRecorder::running(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (Entry* e = find(id)) {
    e->state = CollectiveState::Running;
    e->started = Clock::now();
  }
}

void FlightRecorder::done(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (Entry* e = find(id)) {
    e->state = CollectiveState::Done;
    e->ended = Clock::now();
  }
}

void FlightRecorder::failed(std::uint64_t id, const std::string& error) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (Entry* e = find(id)) {
    e->state = CollectiveState::Failed;
    e->ended = Clock::now();
    e->error = error;
  }
}

std::vector<FlightRecorder::Entry> FlightRecorder::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Entry> out;
  const std::uint64_t first = next_id_ > ring_.size() ? next_id_ - ring_.size() : 1;
  for (std::uint64_t id = first; id < next_id_; ++id) out.push_back(ring_[id % ring_.size()]);
  return out;
}

std::string FlightRecorder::dump() const {
  const std::vector<Entry> entries = snapshot();
  const Clock::time_point now = Clock::now();
  auto ago = [&](Clock::time_point t) { return std::chrono::duration<double>(now - t).count(); };
  std::string out = fmt::format(
      "flight record of rank {} (last {} collectives, oldest first; times in s before now):\n", rank_, entries.size());
  out += fmt::format("  {:>6} {:<8} {:>6}  {:<40} {:>12}  {:<8} {:>9} {:>9} {:>9}\n", "id", "group", "seq",
                     "collective", "bytes", "state", "queued", "started", "ended");
  for (const Entry& e : entries) {
    const Clock::time_point zero{};
    out += fmt::format("  {:>6} {:<8} {:>6}  {:<40} {:>12}  {:<8} {:>9.3f} {:>9} {:>9}", e.id, e.group, e.sequence,
                       e.desc.str(), e.desc.bytes(), collective_state_name(e.state), ago(e.queued),
                       e.started == zero ? std::string("-") : fmt::format("{:.3f}", ago(e.started)),
                       e.ended == zero ? std::string("-") : fmt::format("{:.3f}", ago(e.ended)));
    if (!e.error.empty()) out += "  error: " + e.error;
    out += '\n';
  }
  return out;
}

}  // namespace pouch
