#include "parallel/watchdog.h"

#include <fmt/format.h>
#include <mpi.h>

#include <cstdio>
#include <cstdlib>

namespace pouch {

namespace {

int world_rank_or_zero() {
  int rank = 0;
  if (mpi_is_running()) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

// Prints `text` and ends every rank of the job (or this process without MPI).
[[noreturn]] void terminate_job(const std::string& text, int code) {
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
  if (mpi_is_running()) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; this is for a world without MPI
}

std::string rank_list(const std::vector<int>& ranks) {
  std::string s;
  for (std::size_t i = 0; i < ranks.size(); ++i) s += (i ? ", " : "") + std::to_string(ranks[i]);
  return s;
}

}  // namespace

std::string TimeoutReport::describe() const {
  std::string out = fmt::format(
      "pouch watchdog: rank {} (rank {} of group '{}'): collective {} on group '{}', {}, has not finished after "
      "{:.1f} s (deadline: parallel.timeout_s = {:g})\n",
      world_rank, group_rank, group, sequence, group, desc.str(), waited_s, timeout_s);
  if (missing.empty()) {
    out += fmt::format("  every rank of group '{}' has started collective {}; the transfer itself is stuck\n", group,
                       sequence);
  } else {
    out += fmt::format("  {} (rank{} {} of group '{}')\n", waiting_for(missing_world), missing.size() > 1 ? "s" : "",
                       rank_list(missing), group);
  }
  for (const PeerProgress& p : peers) {
    if (!p.answered) {
      out += fmt::format("  rank {}: did not answer the watchdog (dead, or stuck without its watchdog thread)\n",
                         p.world_rank);
    } else if (p.started < sequence) {
      out += fmt::format("  rank {}: has not started collective {} (issued up to {}, started {}, completed {})\n",
                         p.world_rank, sequence, p.issued, p.started, p.completed);
    } else {
      out += fmt::format("  rank {}: is in collective {} or past it (issued up to {}, started {}, completed {})\n",
                         p.world_rank, sequence, p.issued, p.started, p.completed);
    }
  }
  out += flight_record;
  out += fmt::format(
      "  fix: find what rank{} {} did instead of collective {} (its log and flight record; a crash, an exception, "
      "a different code path); if it is only slow (a long checkpoint, a slow file system), raise "
      "parallel.timeout_s\n",
      missing_world.size() > 1 ? "s" : "", missing.empty() ? std::string("(none)") : rank_list(missing_world),
      sequence);
  return out;
}

std::string waiting_for(const std::vector<int>& ranks) {
  return fmt::format("waiting for rank{} {}", ranks.size() > 1 ? "s" : "", rank_list(ranks));
}

void AbortJobPolicy::on_timeout(const TimeoutReport& report) {
  terminate_job(report.describe() + fmt::format("pouch: rank {}: aborting the job (exit code {})\n", report.world_rank,
                                                kWatchdogExitCode),
                kWatchdogExitCode);
}

void RecordingPolicy::on_timeout(const TimeoutReport& report) {
  std::lock_guard<std::mutex> lock(mutex_);
  reports_.push_back(report);
}

std::vector<TimeoutReport> RecordingPolicy::reports() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reports_;
}

bool mpi_is_running() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

void abort_job(const std::string& reason, int code) {
  if (!mpi_is_running()) return;
  terminate_job(fmt::format("pouch: rank {}: aborting the job: {}\n", world_rank_or_zero(), reason), code);
}

DeadlineGuard::DeadlineGuard(std::string what, double timeout_s, std::string key, std::string advice)
    : thread_([this, what = std::move(what), timeout_s, key = std::move(key), advice = std::move(advice)] {
        std::unique_lock<std::mutex> lock(mutex_);
        const auto limit = std::chrono::duration<double>(timeout_s);
        if (cv_.wait_for(lock, limit, [&] { return finished_; })) return;
        terminate_job(fmt::format("pouch watchdog: rank {}: {} did not finish within {:g} s ({}): {}. "
                                  "Aborting the job (exit code {})\n",
                                  world_rank_or_zero(), what, timeout_s, key, advice, kWatchdogExitCode),
                      kWatchdogExitCode);
      }) {}

DeadlineGuard::~DeadlineGuard() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

}  // namespace pouch
