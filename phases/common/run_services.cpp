#include "phases/common/run_services.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "parallel/watchdog.h"
#include "phases/schedule/world_agreement.h"
#include "runtime/log.h"
#include "runtime/stop_request.h"
#include "runtime/stopwatch.h"

namespace pouch {

namespace {

// Keeps the metrics of steps up to `step` (a resumed run redoes the rest).
void truncate_metrics(const std::string& path, std::int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.contains("step") && j["step"].get<std::int64_t>() <= step) kept += line + "\n";
  }
  in.close();
  std::ofstream out(path, std::ios::trunc);
  out << kept;
}

}  // namespace

CheckpointGroup checkpoint_group(const TrainRanks& ranks) {
  CheckpointGroup g;
  g.rank = ranks.world_rank;
  g.size = ranks.world_size;
  g.tp_rank = ranks.tp_rank();
  g.tp_size = ranks.tp_size();
  g.dp_rank = ranks.dp_rank();
  g.dp_size = ranks.dp_size();
  g.world = ranks.io ? ranks.io : ranks.world;
  return g;
}

RunServices::RunServices(const RunConfig& cfg, const TrainRanks& ranks, Backend& be, const std::string& checkpoint_dir,
                         const std::string& metrics_path, std::int64_t resumed_step,
                         std::vector<std::int64_t> phase_ends)
    : start_(Clock::now()),
      cfg_(cfg),
      ranks_(ranks),
      be_(be),
      writer_(checkpoint_dir, checkpoint_group(ranks),
              RetentionPolicy{static_cast<int>(cfg.checkpoint.keep_last), cfg.checkpoint.keep_every,
                              std::move(phase_ends)}) {
  if (ranks.main()) {
    if (resumed_step > 0) truncate_metrics(metrics_path, resumed_step);
    metrics_ = MetricsLog(metrics_path, resumed_step > 0);
  }
}

CheckpointState state_on_host(Backend& be, const CheckpointState& state) {
  CheckpointState out = state;
  for (auto* list : {&out.model, &out.optim_m, &out.optim_v, &out.phase})
    for (ShardedTensor& t : *list) {
      if (!t.local.defined() || t.local.on_host()) continue;
      Tensor host = Tensor::empty(t.local.shape(), t.local.dtype());
      be.copy(host, t.local);
      t.local = host;
    }
  return out;
}

void RunServices::print(const std::string& line) const {
  if (!ranks_.main()) return;
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void RunServices::write_metrics(const nlohmann::json& line) {
  if (ranks_.main()) metrics_.write(line);
}

int RunServices::agreed_stop_signal() { return max_over_world(ranks_, be_, stop_requested()); }

double RunServices::save(const CheckpointState& device_state, std::int64_t global_step, int stop_signal, bool now) {
  const auto t0 = Clock::now();
  const CheckpointState state = state_on_host(be_, device_state);
  if (stop_signal != 0) {
    writer_.wait();
    // The checkpoint a signal asks for has its own deadline: a peer may be
    // gone. Publishing is atomic, so giving up leaves the previous one whole.
    const std::string previous = last_checkpoint();
    DeadlineGuard guard(fmt::format("the checkpoint of step {} that signal {} asked for", global_step, stop_signal),
                        cfg_.checkpoint.signal_timeout_s, "checkpoint.signal_timeout_s",
                        fmt::format("it was not published; the previous checkpoint ({}) is intact",
                                    previous.empty() ? "none" : previous));
    last_checkpoint_ = writer_.write_now(state);
  } else if (now) {
    last_checkpoint_ = writer_.write_now(state);
  } else {
    writer_.submit(state);
  }
  const double stall = seconds_since(t0);
  stalls_.push_back(stall);
  log_info("checkpoint of step {}: training held up {:.3f} s{}", global_step, stall,
           stop_signal == 0 && !now ? " (writing in the background)" : "");
  return stall;
}

int RunServices::end_step(std::int64_t global_step, bool last_in_phase, nlohmann::json& line,
                          const std::function<CheckpointState()>& capture) {
  line["elapsed_s"] = seconds_since(start_);
  const int stop_signal = agreed_stop_signal();
  const bool every = cfg_.checkpoint.every_steps > 0 && global_step % cfg_.checkpoint.every_steps == 0;
  if (stop_signal != 0 || every || last_in_phase)
    line["checkpoint_s"] = save(capture(), global_step, stop_signal, stop_signal != 0 || last_in_phase);
  write_metrics(line);
  if (stop_signal != 0) stop_signal_ = stop_signal;
  return stop_signal;
}

void RunServices::wait() { writer_.wait(); }

std::string RunServices::last_checkpoint() const {
  const std::string published = writer_.last_published();
  return published.empty() ? last_checkpoint_ : published;
}

}  // namespace pouch
