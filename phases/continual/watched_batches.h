#pragma once
// The rows of a continual phase that learns from a watched directory
// (`[phase.N] watch_dir`; the stream is phases/continual/watched_stream.h).
//
// Each micro-batch has B global rows: n_new = B − round(B·replay_ratio) rows
// for new data, the rest replayed from the run's training data. A step of A
// micro-batches wants A·n_new new windows; plan_step() finds how many it gets:
//   on_idle = wait    poll every watch_poll_s until A·n_new windows are ready;
//                     once the stream has been idle (short of a step's
//                     windows, no new file since it went short) for
//                     idle_timeout_s, the step takes what is ready and is the
//                     phase's last
//   on_idle = replay  poll once and take what is ready (down to none); the
//                     phase ends once it has been idle for idle_timeout_s
//                     (0 = never, it runs its steps)
// The step's k new windows fill the new rows in order: micro-batch m takes
// windows m·n_new .. of the k; new rows beyond the k, and the replay rows,
// read sequence (step·A + m)·B + row of the replay order
// (data/sequence_loader.h, shuffled by the run's seed), so a row is a pure
// function of (step, micro, row) and the stream's state: a resumed phase and
// every data-parallel rank agree.
//
// EWC's Fisher batches read sequence kFisherOffset + batch·B + row of the same
// order, away from the replay rows of any realistic run.
#include <cstdint>
#include <vector>

#include "data/sequence_loader.h"
#include "phases/continual/watched_stream.h"

namespace pouch {

struct WatchBatchConfig {
  std::int64_t batch_size = 16;  // B
  std::int64_t grad_accum = 1;   // A
  double replay_ratio = 0.25;
  bool wait_when_idle = true;  // on_idle = wait (else replay)
  double idle_timeout_s = 60.0;
  double poll_s = 1.0;
};

struct WatchStepPlan {
  std::int64_t new_windows = 0;         // taken off the stream by this step
  bool ends_phase = false;              // idle_timeout_s passed: this is the phase's last step
  double waited_s = 0.0;                // spent waiting for data
  std::vector<WatchLedgerEntry> added;  // files found while planning
};

class WatchedBatches {
 public:
  static constexpr std::int64_t kFisherOffset = std::int64_t{1} << 40;

  // `stream` and `replay` must outlive this.
  WatchedBatches(const WatchBatchConfig& cfg, WatchedStream& stream, const SequenceLoader& replay);

  std::int64_t new_rows() const { return new_rows_; }
  // Collective over the world: every rank calls it at the start of each step.
  WatchStepPlan plan_step(const TrainRanks& ranks, Backend& be);
  // inputs / targets [count, T] of global rows first_row .. of micro-batch
  // (step, micro) under `plan`.
  void fill(const WatchStepPlan& plan, std::int64_t step, std::int64_t micro, std::int64_t first_row,
            std::int64_t count, std::int32_t* inputs, std::int32_t* targets) const;
  // Global rows of micro-batch `micro` that hold new data under `plan`.
  std::int64_t new_rows_in(const WatchStepPlan& plan, std::int64_t micro) const;
  // After the step's optimizer update: the plan's windows leave the stream.
  void finish_step(const WatchStepPlan& plan) { stream_.consume(plan.new_windows); }
  void fill_fisher(std::int64_t batch, std::int64_t first_row, std::int64_t count, std::int32_t* inputs,
                   std::int32_t* targets) const;

 private:
  WatchBatchConfig cfg_;
  WatchedStream& stream_;
  const SequenceLoader& replay_;
  std::int64_t new_rows_ = 0;
};

}  // namespace pouch
