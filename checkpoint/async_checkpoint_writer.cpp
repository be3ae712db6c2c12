#include "checkpoint/async_checkpoint_writer.h"

#include <chrono>

#include "runtime/log.h"

namespace pouch {

namespace {

std::vector<ShardedTensor> copy_tensors(const std::vector<ShardedTensor>& in) {
  std::vector<ShardedTensor> out;
  out.reserve(in.size());
  for (const auto& t : in) out.push_back({t.name, t.full_shape, t.shard, t.local.clone()});
  return out;
}

}  // namespace

AsyncCheckpointWriter::~AsyncCheckpointWriter() {
  if (thread_.joinable()) thread_.join();
}

void AsyncCheckpointWriter::wait() {
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

double AsyncCheckpointWriter::submit(const CheckpointState& state) {
  const auto t0 = std::chrono::steady_clock::now();
  wait();
  CheckpointState snapshot = state;
  snapshot.model = copy_tensors(state.model);
  snapshot.optim_m = copy_tensors(state.optim_m);
  snapshot.optim_v = copy_tensors(state.optim_v);
  snapshot.phase = copy_tensors(state.phase);
  thread_ = std::thread([this, snapshot = std::move(snapshot)] {
    try {
      std::string path = save_checkpoint(dir_, snapshot, group_, retention_);
      log_info("checkpoint of step {} published: {}", snapshot.meta.step, path);
      std::lock_guard<std::mutex> lock(mutex_);
      last_ = std::move(path);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
    }
  });
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string AsyncCheckpointWriter::write_now(const CheckpointState& state) {
  wait();
  std::string path = save_checkpoint(dir_, state, group_, retention_);
  std::lock_guard<std::mutex> lock(mutex_);
  last_ = path;
  return path;
}

std::string AsyncCheckpointWriter::last_published() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_;
}

}  // namespace pouch
