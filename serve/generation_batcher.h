#pragma once
// Continuous batching for `pouch serve`: one thread runs the model, decoding
// every active request together, one forward per token over all of them
// (Generator::step, model/generator.h). A submitted request joins the batch
// at the next token and leaves when it is done; each keeps its own sampling
// settings, seed and KV cache, so its text is the one it would get alone.
//
// Versions: a request takes a model snapshot when it joins and keeps it to
// its end, so no request ever mixes weights. Each step runs one forward per
// version among the active requests (requests of one version together), so
// at most two versions are ever active: a request joins the ModelSlot's
// newest version unless that would make a third one active (swaps faster
// than requests last), and then joins the newest version already active.
// Either way no request gets an older version than one joined before it.
//
// Threads: the batcher's own thread is the only one that runs a model (with
// one BLAS thread), and the one that calls `done`. submit() and in_line() are safe from any
// thread.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "serve/generate_request.h"
#include "serve/model_slot.h"

namespace pouch {

// Time the batcher's thread spent in steps so far: wall clock and its own
// CPU time. wall - cpu is time it was runnable but not running (another
// thread or process had the core): the part of a step's latency that is the
// machine's, not the batch's work.
struct StepTimes {
  std::int64_t steps = 0;
  double wall_s = 0, cpu_s = 0;
};

// The answer to one request: status 200 with the completion and the version
// that wrote it, or a 4xx/5xx status with an error message.
struct GenerationOutcome {
  int status = 200;
  std::string error;
  std::string text;
  std::int64_t tokens = 0;
  std::int64_t version = -1;
};

class GenerationBatcher {
 public:
  using Done = std::function<void(GenerationOutcome)>;

  // max_batch: most requests decoded together; max_waiting: most waiting to
  // join (more are refused by submit). Seeds for requests without one are
  // drawn from seed_base.
  GenerationBatcher(ModelSlot& slot, std::int64_t max_batch, std::int64_t max_waiting, std::uint64_t seed_base);
  ~GenerationBatcher();  // stop()s
  GenerationBatcher(const GenerationBatcher&) = delete;
  GenerationBatcher& operator=(const GenerationBatcher&) = delete;

  // Queues `request`; `done` is called once, on the batcher's thread, with
  // its outcome. Returns false (and never calls `done`) when max_waiting
  // requests already wait.
  bool submit(GenerateRequest request, Done done);
  // Queues every request of `group` under one lock, so that all of them join
  // the batch at the same step (or none is queued: false when they do not
  // all fit in max_waiting); an offline client's batch, and what makes the
  // sharing of forwards testable on a loaded machine.
  bool submit_all(std::vector<std::pair<GenerateRequest, Done>> group);
  // Requests decoding or waiting now.
  std::int64_t in_line() const;
  // Batched forwards run so far (one per model version per step).
  std::int64_t forwards() const { return forwards_; }
  StepTimes step_times() const;
  // Finishes every request already submitted, then ends the thread.
  void stop();

 private:
  struct Active;
  void run();
  void join(std::vector<std::pair<GenerateRequest, Done>>& joining);
  std::shared_ptr<const ServingModel> model_to_join(std::shared_ptr<const ServingModel> newest) const;
  void step_all();

  ModelSlot& slot_;
  const std::int64_t max_batch_, max_waiting_;
  const std::uint64_t seed_base_;
  std::uint64_t seed_counter_ = 0;  // batcher thread only

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<GenerateRequest, Done>> waiting_;
  std::int64_t active_count_ = 0;  // guarded by mutex_, mirrors active_.size()
  bool stopping_ = false;
  std::atomic<std::int64_t> forwards_{0};
  StepTimes step_times_;                         // guarded by mutex_
  std::vector<std::unique_ptr<Active>> active_;  // batcher thread only
  std::thread thread_;
};

}  // namespace pouch
