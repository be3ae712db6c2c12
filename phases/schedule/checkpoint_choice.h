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

// Runs `<verifier> ckpt verify <file>` in a child process with the
// launcher's variables removed, so it never joins the MPI job. Returns true
// when it exits 0; otherwise `why` says what it printed or how it died.
// Without a registered verifier executable (a test binary, a library user)
// the file is verified in this process instead: re-executing a program that
// is not pouch would run that program again.
bool verify_in_child_process(const std::string& file, std::string* why);

// The executable that answers `ckpt verify` (the pouch binary registers
// /proc/self/exe at start-up); empty = verify in-process.
void set_checkpoint_verifier_executable(std::string path);

}  // namespace pouch
