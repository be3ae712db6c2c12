#pragma once
// Checkpoints written while training goes on. submit() takes a snapshot: the
// training thread copies this rank's shards (weights and AdamW moments) into
// buffers of its own, which is all it waits for; a background thread then
// writes and publishes the checkpoint (checkpoint/checkpoint_dir.h) over the
// group's io communicator, whose collectives never interleave with the
// training thread's. At most one write is in flight: the next submit, wait()
// or the destructor joins it first. An error on the writer is rethrown by the
// next submit() or wait().
//
// Threads: the background thread touches only its snapshot, the io
// communicator and HDF5, whose calls checkpoint/ serializes under one lock,
// so the training thread may read and write HDF5 files meanwhile. It must
// not start a collective checkpoint write of its own while one is in
// flight: write_now() joins first (rule 1 of the deadlock argument in
// checkpoint/training_checkpoint.h). All methods belong to the training
// thread.
//
// Memory: one extra copy of this rank's weights and moments while a write
// is in flight.
#include <exception>
#include <mutex>
#include <string>
#include <thread>

#include "checkpoint/checkpoint_dir.h"

namespace pouch {

class AsyncCheckpointWriter {
 public:
  AsyncCheckpointWriter(std::string dir, CheckpointGroup group, RetentionPolicy retention)
      : dir_(std::move(dir)), group_(group), retention_(retention) {}
  ~AsyncCheckpointWriter();
  AsyncCheckpointWriter(const AsyncCheckpointWriter&) = delete;
  AsyncCheckpointWriter& operator=(const AsyncCheckpointWriter&) = delete;

  // Snapshots `state` (copies every tensor) and writes it in the background.
  // Returns the seconds the caller was held up (waiting for the previous
  // write plus the copy): the training stall.
  double submit(const CheckpointState& state);
  // Writes `state` now, on this thread (after joining any write in flight).
  std::string write_now(const CheckpointState& state);
  // Joins the write in flight; rethrows its error.
  void wait();
  // The newest checkpoint published so far (empty before the first).
  std::string last_published() const;

 private:
  std::string dir_;
  CheckpointGroup group_;
  RetentionPolicy retention_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::exception_ptr error_;
  std::string last_;
};

}  // namespace pouch
