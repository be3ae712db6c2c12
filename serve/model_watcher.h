#pragma once
// Watches a serving directory (checkpoint/serving_versions.h) and installs
// each newer version into a ModelSlot. The new version is loaded completely
// off to the side (every tensor read, the generator built) before the swap,
// so requests never wait on a load and never see a half-loaded model.
// A version that fails to load (a damaged or truncated file, a malformed
// LATEST) is logged once and the current model keeps serving; the watcher
// tries again when LATEST names another version.
//
// A fallback file (a run's model.h5) is served as version 0 while no
// version has been published: a run that trained but never published is
// still served, and its first published version (>= 1) replaces it.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "runtime/dtype.h"
#include "serve/model_slot.h"

namespace pouch {

class ModelWatcher {
 public:
  // fallback_file: empty for none. Every version is loaded onto a backend
  // of its own for `device`.
  ModelWatcher(std::string serve_dir, ModelSlot& slot, std::chrono::milliseconds poll_interval,
               std::string fallback_file = {}, Device device = Device::CPU);
  ~ModelWatcher();  // stop()s
  ModelWatcher(const ModelWatcher&) = delete;
  ModelWatcher& operator=(const ModelWatcher&) = delete;

  // One check of LATEST, on the calling thread: loads and installs the
  // version it names when that is newer than the slot's (or, with no LATEST
  // and an empty slot, the fallback file). Returns true when it installed
  // one. Never throws for a bad directory or file (it logs).
  bool poll_once();

  // poll_once() every poll_interval on a thread of its own, until stop().
  void start();
  void stop();

  const std::string& serve_dir() const { return serve_dir_; }

 private:
  void run();
  bool load_fallback();

  std::string serve_dir_;
  ModelSlot& slot_;
  std::chrono::milliseconds poll_interval_;
  // The last LATEST that failed (its version, or its text's error), so a
  // damaged version is reported once rather than every poll.
  std::optional<std::int64_t> failed_version_;
  std::string last_latest_error_;
  std::string fallback_file_;
  Device device_;
  // The modification time of a fallback that failed to load: retried only
  // once the file changes (training may still be writing it).
  std::optional<std::filesystem::file_time_type> failed_fallback_time_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pouch
