#pragma once
// Choosing the checkpoint `--resume=auto` continues from. HDF5 1.10 can
// crash (not just fail) on a structurally damaged file, as fuzzing showed,
// so each candidate is verified in a child process (`pouch ckpt verify`,
// started fresh, without MPI): a crash there marks the checkpoint bad
// instead of killing the run, and the next older one is tried.
#include <optional>
#include <string>

#include "checkpoint/checkpoint_dir.h"

namespace pouch {

// The newest published checkpoint of `dir` whose checksums verify, or
// nullopt. Skipped ones are reported with log_warn, with the verifier's words.
std::optional<FoundCheckpoint> newest_verified_checkpoint(const std::string& dir);

// Runs `pouch ckpt verify <file>` (this executable) in a child process with
// the launcher's variables removed, so it never joins the MPI job. Returns
// true when it exits 0; otherwise `why` says what it printed or how it died.
bool verify_in_child_process(const std::string& file, std::string* why);

}  // namespace pouch
