#include "phases/continual/watched_batches.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "phases/schedule/world_agreement.h"
#include "runtime/error.h"
#include "runtime/stop_request.h"

namespace pouch {

WatchedBatches::WatchedBatches(const WatchBatchConfig& cfg, WatchedStream& stream, const SequenceLoader& replay)
    : cfg_(cfg),
      stream_(stream),
      replay_(replay),
      new_rows_(cfg.batch_size - std::llround(static_cast<double>(cfg.batch_size) * cfg.replay_ratio)) {
  POUCH_CHECK(new_rows_ >= 1 && new_rows_ <= cfg.batch_size, "{} new rows of {}", new_rows_, cfg.batch_size);
  POUCH_CHECK(replay.seq_len() == stream.seq_len(), "replay windows of {} tokens, stream windows of {}",
              replay.seq_len(), stream.seq_len());
}

WatchStepPlan WatchedBatches::plan_step(const TrainRanks& ranks, Backend& be) {
  WatchStepPlan plan;
  const std::int64_t wanted = cfg_.grad_accum * new_rows_;
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    WatchPoll poll = stream_.poll(ranks, be, wanted);
    plan.added.insert(plan.added.end(), poll.added.begin(), poll.added.end());
    // idle_s is rank 0's, broadcast: every rank takes the same branch.
    const bool timed_out = cfg_.idle_timeout_s > 0 && poll.idle_s >= cfg_.idle_timeout_s;
    if (stream_.windows_ready() >= wanted || !cfg_.wait_when_idle) {
      plan.ends_phase = timed_out && stream_.windows_ready() < wanted;
      break;
    }
    if (timed_out || cfg_.idle_timeout_s <= 0) {
      plan.ends_phase = true;
      break;
    }
    // A stop signal (Slurm's SIGUSR1/SIGTERM) ends the wait; the phase loop
    // then checkpoints after this step.
    if (any_rank(ranks, be, stop_requested() != 0)) break;
    std::this_thread::sleep_for(std::chrono::duration<double>(cfg_.poll_s));
  }
  plan.new_windows = std::min(wanted, stream_.windows_ready());
  plan.waited_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return plan;
}

std::int64_t WatchedBatches::new_rows_in(const WatchStepPlan& plan, std::int64_t micro) const {
  return std::clamp(plan.new_windows - micro * new_rows_, std::int64_t{0}, new_rows_);
}

void WatchedBatches::fill(const WatchStepPlan& plan, std::int64_t step, std::int64_t micro, std::int64_t first_row,
                          std::int64_t count, std::int32_t* inputs, std::int32_t* targets) const {
  const std::int64_t T = stream_.seq_len();
  const std::int64_t fresh = new_rows_in(plan, micro);
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t row = first_row + i;
    std::int32_t* in = inputs + i * T;
    std::int32_t* tg = targets + i * T;
    if (row < fresh)
      stream_.window(micro * new_rows_ + row, in, tg);
    else
      replay_.sequence((step * cfg_.grad_accum + micro) * cfg_.batch_size + row, in, tg);
  }
}

void WatchedBatches::fill_fisher(std::int64_t batch, std::int64_t first_row, std::int64_t count, std::int32_t* inputs,
                                 std::int32_t* targets) const {
  const std::int64_t T = stream_.seq_len();
  for (std::int64_t i = 0; i < count; ++i)
    replay_.sequence(kFisherOffset + batch * cfg_.batch_size + first_row + i, inputs + i * T, targets + i * T);
}

}  // namespace pouch
