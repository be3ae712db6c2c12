#pragma once
// The serving directory: how a training run hands fresh weights to
// `pouch serve` while both run.
//
//   <run_dir>/serve/v-000007.h5      a published version: a weights file
//                                    (checkpoint/weights_file.h) carrying its
//                                    tokenizer (and the run's config)
//   <run_dir>/serve/v-000008.h5.tmp  one being written (or left by a crash): ignored
//   <run_dir>/serve/LATEST           text "8 v-000008.h5\n": the newest published one
//
// publish_serving_version: write v-N.h5.tmp, fsync, rename to v-N.h5, fsync
// the directory (save_weights does all four), then replace LATEST the same
// way (atomic_file.h), then delete all but the newest `keep` versions. A
// reader that reads LATEST and then opens the file it names therefore only
// ever sees a complete file; a crash at any moment leaves LATEST naming the
// previous, whole version. A version pruned between a reader's read of LATEST
// and its open fails to open: the reader retries with the new LATEST (on
// POSIX a file already open stays readable after it is unlinked).
//
// One publisher per directory. Any thread may publish or read while other
// threads of the process use HDF5: checkpoint/ serializes HDF5 calls under
// one lock (checkpoint/hdf5_handle.h).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/weights_file.h"
#include "model/gpt_config.h"

namespace pouch {

inline constexpr const char* kServingLatestFile = "LATEST";
inline constexpr int kDefaultServingKeep = 3;

struct ServingVersion {
  std::int64_t version = 0;
  std::string path;  // <dir>/v-NNNNNN.h5
};

// <run_dir>/serve: where a run publishes and `pouch serve --watch <run_dir>` looks.
std::string serving_dir(const std::string& run_dir);
// "v-000007.h5": the version zero-padded to 6 digits (more when it needs them).
std::string serving_version_file_name(std::int64_t version);
// The version of a published file's name, or nullopt for any other name
// (v-N.h5.tmp, LATEST, stray files).
std::optional<std::int64_t> parse_serving_version_file_name(const std::string& name);

// Publishes full tensors `named` (GPT::named_values()) as version `version`
// (>= 1) of `dir` (created if missing), with the tokenizer's JSON
// (Tokenizer::serialize(); required: the server encodes prompts with it) and
// the run's INI text (may be empty) as attributes of /model, exactly as
// `pouch train` writes model.h5. `version` must be greater than the one
// LATEST names (pouch::Error otherwise: a server never goes back). Keeps the
// newest `keep` (>= 1) versions, never the one LATEST names. Returns what
// LATEST now names. Not collective: call it on one rank.
ServingVersion publish_serving_version(const std::string& dir, std::int64_t version, const NamedTensors& named,
                                       const GPTConfig& config, const std::string& tokenizer_json,
                                       const std::string& config_ini, int keep = kDefaultServingKeep);

// What <dir>/LATEST names, or nullopt when there is no LATEST (nothing
// published yet, or `dir` does not exist). A malformed LATEST throws a
// pouch::Error naming the file and the expected form. Does not open the
// weights file.
std::optional<ServingVersion> read_latest_serving_version(const std::string& dir);

// Published version files of `dir`, oldest first (no verification).
std::vector<ServingVersion> list_serving_versions(const std::string& dir);

}  // namespace pouch
