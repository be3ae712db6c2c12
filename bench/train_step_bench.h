#pragma once
// Benchmark of one training step (forward, backward, AdamW) of pouch's GPT
// against the PyTorch eager peer (bench/torch_gpt_peer.py) run in the same
// invocation, and against the machine's measured sgemm peak.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/gpt_config.h"
#include "runtime/profiling_backend.h"

namespace pouch {

struct TrainBenchConfig {
  GPTConfig model;
  std::int64_t batch = 8;
  std::int64_t steps = 10;  // timed steps (after 2 warm-up steps); the median is reported
  int threads = 0;          // 0 = all cores
  bool profile = false;     // time each backend op over extra steps
};

struct TrainBenchResult {
  double ms_per_step = 0.0;
  double tokens_per_s = 0.0;
  double model_gflops = 0.0;  // model FLOPs (GPT::train_flops_per_token) per second
  double loss = 0.0;
  std::map<std::string, OpTiming> profile;  // per op, per step
  double profiled_step_s = 0.0;
};

TrainBenchResult run_pouch_train_bench(const TrainBenchConfig& cfg);

struct PeerResult {
  int threads = 0;
  double tokens_per_s = 0.0;
  double ms_per_step = 0.0;
  std::string error;  // non-empty when the peer could not run
};

// Runs the peer script once with `threads` torch threads, same model and batch.
PeerResult run_torch_peer(const std::string& python, const std::string& script, const TrainBenchConfig& cfg,
                          int threads);

std::string default_peer_script();

}  // namespace pouch
