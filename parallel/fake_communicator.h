#pragma once
// In-process ranks for unit tests: a FakeWorld is a group of `size` ranks in
// one process; each rank's FakeCommunicator is used from its own std::thread,
// exactly as one MPI rank would use its communicator. Reductions are real
// (in rank order, so results are deterministic and identical on every rank),
// the async contract is the same (one communication thread per communicator,
// collectives in issue order), and faults can be injected:
//  - inject_failure(rank, k): that rank's k-th collective fails; the peers'
//    k-th collective fails too, naming the rank, and so does every later
//    collective of the group (a failed group stays failed, as with MPI).
//  - inject_delay(rank, k, ms): that rank arrives at its k-th collective ms
//    late. Past the deadline the waiting ranks' watchdog policy gets a
//    TimeoutReport naming the ranks that had not arrived, and their
//    collective fails with a CollectiveError carrying the report; the late
//    rank's collective fails when it arrives.
// A mismatch (ranks issuing different collectives at the same sequence
// number) fails the collective on every rank with both descriptions.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "parallel/collective_desc.h"
#include "parallel/comm_options.h"
#include "parallel/communicator.h"

namespace pouch {

class CommThread;
class FlightRecorder;
class WatchdogPolicy;

class FakeWorld {
 public:
  // `name` is the group name every rank's communicator reports ("world", "tp").
  explicit FakeWorld(int size, std::string name = "world");
  FakeWorld(const FakeWorld&) = delete;
  FakeWorld& operator=(const FakeWorld&) = delete;

  int size() const { return size_; }
  const std::string& name() const { return name_; }

  // k counts from 1, per rank, like Work::sequence(). Set before the
  // collectives run.
  void inject_failure(int rank, std::uint64_t k);
  void inject_delay(int rank, std::uint64_t k, std::chrono::milliseconds delay);

  // Rank `rank` takes part in collective `seq`: returns once every rank has
  // arrived and `out` holds this rank's result; throws CollectiveError when
  // the collective fails on any rank or the deadline passes. Called by
  // FakeCommunicator on its communication thread.
  struct RankView {
    int rank;
    double timeout_s;
    FlightRecorder* recorder;
    WatchdogPolicy* policy;
  };
  void run(const RankView& me, std::uint64_t seq, const CollectiveDesc& desc, const Tensor& in, const Tensor& out);

 private:
  struct Slot;
  std::string fail_locked(std::string message);

  const int size_;
  const std::string name_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::pair<int, std::uint64_t>, bool> failures_;
  std::map<std::pair<int, std::uint64_t>, std::chrono::milliseconds> delays_;
  std::map<std::uint64_t, std::shared_ptr<Slot>> slots_;
  std::string broken_;  // non-empty once a collective has failed
};

class FakeCommunicator final : public Communicator {
 public:
  // Rank `rank` of `world`; the world lives as long as any of its ranks.
  // options.policy defaults to a RecordingPolicy (see policy()).
  FakeCommunicator(std::shared_ptr<FakeWorld> world, int rank, CommOptions options = {});
  ~FakeCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return world_->size(); }
  const std::string& name() const override { return world_->name(); }

  WorkHandle all_reduce_async(const Tensor& t, ReduceOp op) override;
  WorkHandle reduce_scatter_async(const Tensor& out, const Tensor& in, ReduceOp op) override;
  WorkHandle all_gather_async(const Tensor& out, const Tensor& in) override;
  WorkHandle broadcast_async(const Tensor& t, int root) override;
  WorkHandle barrier_async() override;

  const std::shared_ptr<WatchdogPolicy>& policy() const { return options_.policy; }
  const std::shared_ptr<FlightRecorder>& recorder() const { return options_.recorder; }

 private:
  WorkHandle enqueue(const CollectiveDesc& desc, const Tensor& in, const Tensor& out);

  std::shared_ptr<FakeWorld> world_;
  const int rank_;
  CommOptions options_;
  std::mutex issue_mutex_;  // sequence numbers follow queue order
  std::uint64_t issued_ = 0;
  std::unique_ptr<CommThread> thread_;
};

// `size` communicators on one new FakeWorld, rank r at index r.
std::vector<std::unique_ptr<FakeCommunicator>> make_fake_group(int size, const std::string& name = "world",
                                                               const CommOptions& options = {});

}  // namespace pouch
