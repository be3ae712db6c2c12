#pragma once
// A training run's state as a checkpoint (checkpoint/training_checkpoint.h):
// this rank's shards of the weights and of AdamW's moments, AdamW's step
// count, and where the run is (the optimizer step; the data order is a pure
// function of the global sequence index, so the step fixes the data position
// on every rank). No phase carries an RNG stream from step to step (rollouts
// and continual batches draw from streams keyed by the seed, the step and
// the sample), so rng_per_rank stays empty. A phase adds its own tensors and
// rows to the state, and PhaseContext::stamp the metadata (/meta phase,
// layout, config, tokenizer).
#include <cstdint>
#include <string>

#include "checkpoint/training_checkpoint.h"
#include "model/gpt.h"
#include "runtime/adamw_optimizer.h"

namespace pouch {

struct RunPosition {
  std::int64_t step = 0;  // optimizer steps completed
  std::int64_t tokens_seen = 0;
  std::int64_t next_sequence = 0;  // the run's next global sequence index
};

// Views of this rank's tensors (no copies): valid while model and optimizer
// live. /meta holds the step, tokens seen and the model config; the rest of
// /meta is the caller's (PhaseContext::stamp).
CheckpointState capture_run_state(const GPT& model, const AdamWOptimizer& optimizer, const RunPosition& position);
// Reads `path` into the model and optimizer (each rank its shards, whatever
// the layout that wrote it) and returns the position. Errors name the file
// and dataset.
// `verify`: check every dataset's checksum first (reads the whole file); a
// caller that already verified it (find_latest_complete) passes false.
RunPosition restore_run_state(const std::string& path, GPT& model, AdamWOptimizer& optimizer, int rank,
                              bool verify = true);

// read_checkpoint_file into targets that may be on be's device: those are
// read into host stand-ins, then copied up (the phases' own tensors too).
void read_checkpoint_staged(Backend& be, const std::string& path, CheckpointState& s, const ReadOptions& options);
// Reads /meta and the per-rank rows (/data, /data_f64) of `path`, no tensors.
CheckpointState read_checkpoint_rows(const std::string& path, int rank);

// Reads only the weights (/model) of `path` into the model, each rank its
// shards: the start of a phase from the checkpoint that ended the one before.
void restore_model_weights(const std::string& path, GPT& model, int rank, bool verify);

}  // namespace pouch
