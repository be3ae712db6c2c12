#pragma once
// The collective watchdog: what happens when a collective passes its deadline
// (parallel.timeout_s), and how a failing rank takes the whole job down.
//
// A deadline expiry produces a TimeoutReport: the collective (group, op,
// sequence number), how long it waited, the ranks of the group that have not
// arrived, and this rank's flight record. A WatchdogPolicy decides what to do
// with it: AbortJobPolicy (the default of MpiCommunicator) prints it to
// stderr and calls MPI_Abort(MPI_COMM_WORLD), so mpirun/srun kills every rank
// and exits non-zero; RecordingPolicy (the default of FakeCommunicator) keeps
// it for tests and lets the collective fail with a CollectiveError carrying
// the same text.
//
// A rank that dies (SIGKILL, a crash) is the launcher's to notice: Open
// MPI's mpirun kills the whole job as soon as one process dies (measured here:
// SIGKILL of rank 1 ended `mpirun -np 2` in 1.3 s with exit status 137), and
// srun --mpi=pmix cancels the step within about a second. Were a launcher not
// to, the survivors' deadlines would end the job (their queries to the dead
// rank go unanswered, and the report names it).
//
// Who observes the deadline: FakeCommunicator's communication thread (its
// rendezvous waits with a timeout); MpiCommunicator's watchdog thread (its
// communication thread sits inside a blocking MPI call; see
// mpi_communicator.h for why, and for how it learns which ranks are missing).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parallel/collective_desc.h"

namespace pouch {

// MPI_Abort code (and mpirun's exit status) when a deadline expires.
inline constexpr int kWatchdogExitCode = 3;

// What one peer said about its progress on the group when asked.
struct PeerProgress {
  int group_rank = 0;
  int world_rank = 0;
  bool answered = false;                                 // false: no reply within the grace period
  std::uint64_t issued = 0, started = 0, completed = 0;  // sequence numbers
};

struct TimeoutReport {
  std::string group;
  int group_rank = 0, world_rank = 0;  // of the reporting rank
  std::uint64_t sequence = 0;
  CollectiveDesc desc;
  double waited_s = 0, timeout_s = 0;
  // Group ranks (and their world ranks) that had not arrived at `sequence`,
  // or did not answer: the ones this rank was waiting for.
  std::vector<int> missing, missing_world;
  // Every peer's answer, when the implementation asked them (MPI); empty for
  // the fake, which sees arrivals directly.
  std::vector<PeerProgress> peers;
  std::string flight_record;

  // The full text: headline, the ranks waited for, peers, flight record, fix.
  std::string describe() const;
};

class WatchdogPolicy {
 public:
  virtual ~WatchdogPolicy() = default;
  // Called once per expired collective, on the thread that observed it. May
  // not return (abort). If it returns, the collective fails with
  // CollectiveError(report.describe()); an MPI collective cannot be
  // cancelled, so MpiCommunicator aborts the job anyway.
  virtual void on_timeout(const TimeoutReport& report) = 0;
};

// Prints the report to stderr, then MPI_Abort(MPI_COMM_WORLD,
// kWatchdogExitCode); without MPI, exits the process with that code.
class AbortJobPolicy final : public WatchdogPolicy {
 public:
  void on_timeout(const TimeoutReport& report) override;
};

// Keeps every report; the collective then fails with a CollectiveError.
class RecordingPolicy final : public WatchdogPolicy {
 public:
  void on_timeout(const TimeoutReport& report) override;
  std::vector<TimeoutReport> reports() const;

 private:
  mutable std::mutex mutex_;
  std::vector<TimeoutReport> reports_;
};

// "waiting for rank 1" / "waiting for ranks 1, 3": the phrase every report
// and error about a deadline uses, so logs can be searched for it.
std::string waiting_for(const std::vector<int>& ranks);

// True between MPI_Init and MPI_Finalize (asks MPI; safe to call any time).
bool mpi_is_running();

// For the launcher's top-level catch blocks: when MPI is running, prints
// "pouch: rank R: aborting the job: <reason>" to stderr and calls
// MPI_Abort(MPI_COMM_WORLD, code), so the launcher kills every rank and exits
// non-zero instead of leaving the others blocked in a collective; it does not
// return. Without MPI (a world of one) it does nothing and returns, so the
// caller exits with `code` as usual. Not for a UniformError
// (uniform_error.h): every rank raised that one, so each prints it and
// returns non-zero, and no rank is killed before it has printed.
void abort_job(const std::string& reason, int code);

// Bounds a blocking MPI call that has no Work handle (communicator creation,
// MPI_Comm_split, ...): if the scope is still open after `timeout_s`, prints
// "<what> did not finish within ..." and takes the job down like
// AbortJobPolicy. One helper thread per guard; for rare, collective set-up
// calls, not per collective.
class DeadlineGuard {
 public:
  // `key` names the setting the deadline comes from, `advice` what to do.
  DeadlineGuard(std::string what, double timeout_s, std::string key = "parallel.timeout_s",
                std::string advice = "a rank did not reach it; look for a rank that failed or took another path");
  ~DeadlineGuard();
  DeadlineGuard(const DeadlineGuard&) = delete;
  DeadlineGuard& operator=(const DeadlineGuard&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool finished_ = false;
  std::thread thread_;
};

}  // namespace pouch
