#include "serve/model_watcher.h"

#include <filesystem>

#include "checkpoint/serving_versions.h"
#include "runtime/error.h"
#include "runtime/log.h"

namespace pouch {

ModelWatcher::ModelWatcher(std::string serve_dir, ModelSlot& slot, std::chrono::milliseconds poll_interval,
                           std::string fallback_file, Device device)
    : serve_dir_(std::move(serve_dir)),
      slot_(slot),
      poll_interval_(poll_interval),
      fallback_file_(std::move(fallback_file)),
      device_(device) {}

ModelWatcher::~ModelWatcher() { stop(); }

bool ModelWatcher::poll_once() {
  std::optional<ServingVersion> latest;
  try {
    latest = read_latest_serving_version(serve_dir_);
    last_latest_error_.clear();
  } catch (const Error& e) {
    if (e.what() != last_latest_error_) log_warn("serve: {}; still serving the current model", e.what());
    last_latest_error_ = e.what();
    return false;
  }
  if (!latest) return load_fallback();
  const auto current = slot_.current();
  if (current && latest->version <= current->version()) return false;
  if (failed_version_ == latest->version) return false;

  const auto start = std::chrono::steady_clock::now();
  std::shared_ptr<const ServingModel> next;
  try {
    next = ServingModel::load(latest->path, latest->version, device_);
  } catch (const std::exception& e) {
    // Not remembered when the file is gone: the publisher pruned it after
    // this read of LATEST, and LATEST already names a newer one.
    std::error_code ec;
    if (std::filesystem::exists(latest->path, ec)) failed_version_ = latest->version;
    log_warn("serve: cannot load version {} ({}): {}; {}", latest->version, latest->path, e.what(),
             current ? fmt::format("still serving version {}", current->version()) : std::string("still waiting"));
    return false;
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  slot_.install(next);
  log_info("serve: now serving version {} ({}, loaded in {:.0f} ms)", next->version(), next->path(), ms);
  return true;
}

bool ModelWatcher::load_fallback() {
  if (fallback_file_.empty() || slot_.current()) return false;
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(fallback_file_, ec);
  if (ec || failed_fallback_time_ == mtime) return false;
  try {
    slot_.install(ServingModel::load(fallback_file_, 0, device_));
  } catch (const std::exception& e) {
    failed_fallback_time_ = mtime;
    log_warn("serve: cannot load {} ({}); waiting for it to change or for a version to be published to {}",
             fallback_file_, e.what(), serve_dir_);
    return false;
  }
  log_info("serve: no version published to {} yet: serving {} as version 0", serve_dir_, fallback_file_);
  return true;
}

void ModelWatcher::start() {
  POUCH_CHECK(!thread_.joinable(), "ModelWatcher::start called twice");
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void ModelWatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ModelWatcher::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    poll_once();
    lock.lock();
    wake_.wait_for(lock, poll_interval_, [this] { return stopping_; });
  }
}

}  // namespace pouch
