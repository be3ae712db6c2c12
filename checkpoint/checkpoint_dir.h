#pragma once
// A run's checkpoint directory and the publish protocol:
//
//   <dir>/step-00000100/state.h5   a published checkpoint (training_checkpoint.h)
//   <dir>/step-00000200.tmp/       one being written (or left by a crash): ignored
//   <dir>/latest                   text "step-00000200\n": the newest published one
//
// save_checkpoint: write step-N.tmp/state.h5 (collective), fsync the file and
// the directory while verifying its checksums by reading it back (both must
// finish and succeed), rename step-N.tmp ->
// step-N, fsync <dir>, then replace `latest` (tmp + rename + fsync), then
// prune. A crash at any moment leaves every earlier published checkpoint and
// `latest` whole: `latest` only ever names a directory already renamed into
// place. The metadata steps run on world rank 0; the other ranks wait for it
// (a broadcast of its status) and throw if it failed.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/training_checkpoint.h"

namespace pouch {

struct RetentionPolicy {
  int keep_last = 0;                     // keep the newest keep_last checkpoints (0: keep all)
  std::int64_t keep_every = 0;           // steps that are multiples of this are never deleted (0: none)
  std::vector<std::int64_t> keep_steps;  // never deleted either (a schedule's phase boundaries)
};

// "step-00000100": the step zero-padded to 8 digits (more when it needs them).
std::string step_dir_name(std::int64_t step);
// The step of a published checkpoint directory's name, or nullopt for any
// other name (step-N.tmp, latest, stray files).
std::optional<std::int64_t> parse_step_dir_name(const std::string& name);

// Collective over the group's world. Returns the published state.h5's path.
std::string save_checkpoint(const std::string& dir, const CheckpointState& mine, const CheckpointGroup& group,
                            const RetentionPolicy& retention = {});

struct FoundCheckpoint {
  std::int64_t step = 0;
  std::string dir;   // <dir>/step-N
  std::string file;  // <dir>/step-N/state.h5
};

// Published checkpoints of `dir`, oldest first (by name; no verification).
std::vector<FoundCheckpoint> list_checkpoints(const std::string& dir);

// The newest published checkpoint whose checksums verify, or nullopt when
// there is none (or `dir` does not exist). A newer one that fails is
// reported with log_warn (its path and the reason, e.g. the dataset whose
// checksum fails) and skipped; `latest` naming a missing directory is
// reported too. Not collective: run it on one rank and share the answer, or
// on every rank (each reads every candidate).
std::optional<FoundCheckpoint> find_latest_complete(const std::string& dir);

// Deletes published checkpoints the policy does not keep; never the newest.
// Each is renamed to step-N.pruned.tmp before it is removed, so a crash
// mid-delete leaves only an ignored .tmp directory.
void prune_checkpoints(const std::string& dir, const RetentionPolicy& retention);

}  // namespace pouch
