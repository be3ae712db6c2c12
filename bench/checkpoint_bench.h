#pragma once
// Checkpoint write and resume benchmark (behind `pouch bench ckpt`), all in
// one run on one directory, so the disk yardstick and the checkpoint see the
// same disk, page cache and background load:
//   raw      write() of the state's bytes (weights, AdamW m and v) from memory
//            in 4 MiB calls, then fsync(): the best a writer of those bytes
//            can do on this disk, timed in-process (the yardstick);
//   dd       `dd if=/dev/zero bs=4M count=N conv=fsync` of as many bytes,
//            its own reported rate (the yardstick, printed beside);
//   file     write_checkpoint_file (HDF5 datasets + checksums) then fsync:
//            what a checkpoint costs before the publish protocol;
//   publish  save_checkpoint: the file, fsync of file and directory, the
//            verifying re-read of every checksum, rename, `latest`;
//   resume   restore_run_state with and without the checksum pass, from the
//            page cache (just written) and cold (the file's pages dropped).
// Each repetition runs every measurement once, interleaved, so drift in the
// disk's speed hits all of them alike; medians are reported.
#include <cstdint>
#include <string>

#include "model/gpt_config.h"

namespace pouch {

struct CkptBenchConfig {
  GPTConfig model;  // >= 100 MB of state for the figure
  std::string dir;  // scratch directory on the disk to measure (created; its files removed after)
  int repeats = 5;  // interleaved repetitions; medians are reported
};

struct CkptBenchResult {
  std::int64_t state_bytes = 0;                       // weights + m + v, f32
  std::int64_t file_bytes = 0;                        // the checkpoint file's size
  double raw_s = 0, dd_s = 0;                         // yardstick seconds for state_bytes (dd: scaled to state_bytes)
  double raw_write_s = 0;                             // the raw write's seconds before its fsync
  double dd_reported_bps = 0;                         // dd's own rate, bytes/s
  double file_write_s = 0;                            // write_checkpoint_file alone (no fsync)
  double file_fsync_s = 0;                            // fsync of that file after it
  double file_s = 0;                                  // write_checkpoint_file + fsync (median of the sum)
  double verify_hot_s = 0;                            // verify_checkpoint_file from the page cache
  double publish_s = 0;                               // save_checkpoint
  double resume_verify_s = 0, resume_noverify_s = 0;  // from the page cache
  double resume_cold_verify_s = 0, resume_cold_noverify_s = 0;  // file's pages dropped first
};

// Prints each measurement as it goes and a summary; throws pouch::Error when
// the directory cannot be written or dd cannot run.
CkptBenchResult run_checkpoint_bench(const CkptBenchConfig& cfg);

}  // namespace pouch
