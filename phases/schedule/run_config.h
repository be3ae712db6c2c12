#pragma once
// The whole configuration of a run: one struct per INI section. The launcher
// fills it (INI files + --section.key=value overrides, validated before any
// work) and can write it back as INI text; phases/ consume it.
#include <cstdint>
#include <string>
#include <vector>

#include "data/data_config.h"
#include "model/gpt_config.h"
#include "phases/schedule/phase_config.h"
#include "runtime/optim_config.h"

namespace pouch {

// [train]
struct TrainConfig {
  std::string name = "r1-tiny";  // run name; run_dir defaults to runs/<name>
  std::string run_dir;           // empty = runs/<name>
  std::int64_t batch_size = 16;  // sequences per micro-batch
  std::int64_t grad_accum = 1;   // micro-batches per optimizer step
  std::int64_t steps = 1000;     // optimizer steps
  std::uint64_t seed = 1337;
  std::string init_from;        // pouch weights file (HDF5) or llm.c model file to start from; empty = random init
  bool recompute = false;       // activation checkpointing per block
  std::int64_t eval_every = 0;  // optimizer steps between evals (also at step 0 and the last step); 0 = off
  std::int64_t threads = 0;     // OpenMP/BLAS threads; 0 = all cores
};

// [log]
struct LogConfig {
  std::string metrics;       // JSON-lines file; empty = <run_dir>/metrics.jsonl
  std::int64_t every = 10;   // progress line every N optimizer steps
  double peak_gflops = 0.0;  // for MFU; 0 = measure sgemm at start-up
};

// [parallel]: how the world of ranks (mpirun -np N / srun -n N) is split.
struct ParallelConfig {
  std::int64_t tp = 1;       // tensor-parallel degree (consecutive ranks)
  std::int64_t dp = 0;       // data-parallel degree; 0 = world size / tp
  double timeout_s = 300.0;  // deadline of every collective (the watchdog)
  double bucket_mb = 50.0;   // gradient bucket size: a 124M-parameter model (496 MB of fp32 gradients) gets ~10
  bool overlap = true;       // reduce buckets during backward (false: after it)
};

// [checkpoint]: full training-state checkpoints (docs/checkpoint-format.md).
struct CheckpointConfig {
  std::string dir;                  // empty = <run_dir>/checkpoints
  std::int64_t every_steps = 0;     // 0 = only at the end of the run and on SIGUSR1/SIGTERM
  std::int64_t keep_last = 3;       // newest checkpoints kept (milestones aside); 0 = all
  std::int64_t keep_every = 0;      // steps that are multiples of this are never deleted; 0 = none
  double signal_timeout_s = 120.0;  // deadline of the checkpoint a signal asks for
};

// [runtime]: where the model runs.
struct RuntimeConfig {
  std::string device = "auto";  // auto | cpu | sim | cuda (runtime/device_setting.h)
};

struct RunConfig {
  GPTConfig model;
  TrainConfig train;
  DataConfig data;
  OptimConfig optim;
  LogConfig log;
  ParallelConfig parallel;
  CheckpointConfig checkpoint;
  RuntimeConfig runtime;
  std::vector<PhaseConfig> phases;  // [phase.N] in order; empty = one pretrain phase of train.steps
};

}  // namespace pouch
