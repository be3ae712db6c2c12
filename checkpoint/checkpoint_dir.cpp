#include "checkpoint/checkpoint_dir.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "checkpoint/atomic_file.h"
#include "parallel/communicator.h"
#include "runtime/error.h"
#include "runtime/log.h"

namespace pouch {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStateFile = "state.h5";
constexpr const char* kLatestFile = "latest";
constexpr const char* kStepPrefix = "step-";

void rename_or_fail(const fs::path& from, const fs::path& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0)
    fail("cannot rename '{}' to '{}': {}: check the checkpoint directory's permissions", from.string(), to.string(),
         std::strerror(errno));
}

void remove_tmp_dirs(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(kStepPrefix) && name.ends_with(".tmp")) fs::remove_all(entry.path(), ec);
  }
}

void write_latest(const fs::path& dir, const std::string& step_name) {
  const fs::path latest = dir / kLatestFile;
  const std::string tmp = temporary_path(latest.string());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << step_name << '\n';
    out.flush();
    if (!out) fail("cannot write '{}': check free disk space", tmp);
  }
  publish(tmp, latest.string());
}

}  // namespace

std::string step_dir_name(std::int64_t step) {
  POUCH_CHECK(step >= 0, "negative checkpoint step {}", step);
  return fmt::format("{}{:08d}", kStepPrefix, step);
}

std::optional<std::int64_t> parse_step_dir_name(const std::string& name) {
  if (!name.starts_with(kStepPrefix)) return std::nullopt;
  std::string digits = name.substr(std::strlen(kStepPrefix));
  if (digits.size() < 8 || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return std::stoll(digits);
}

std::vector<FoundCheckpoint> list_checkpoints(const std::string& dir) {
  std::vector<FoundCheckpoint> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    auto step = parse_step_dir_name(name);
    if (!step || !entry.is_directory(ec)) continue;
    out.push_back({*step, entry.path().string(), (entry.path() / kStateFile).string()});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
  return out;
}

std::optional<FoundCheckpoint> find_latest_complete(const std::string& dir) {
  std::vector<FoundCheckpoint> all = list_checkpoints(dir);
  const fs::path latest = fs::path(dir) / kLatestFile;
  std::error_code ec;
  if (fs::exists(latest, ec)) {
    std::ifstream in(latest);
    std::string named;
    std::getline(in, named);
    auto step = parse_step_dir_name(named);
    bool listed = step && std::any_of(all.begin(), all.end(), [&](const auto& c) { return c.step == *step; });
    if (!listed)
      log_warn(
          "checkpoint directory '{}': 'latest' names '{}', which is not a published checkpoint; scanning for the "
          "newest one instead",
          dir, named);
  } else if (!all.empty()) {
    log_warn("checkpoint directory '{}' has no 'latest' file; scanning for the newest checkpoint instead", dir);
  }
  // Newest first, whatever `latest` says: a directory renamed into place was
  // verified before the rename, so one newer than `latest` (a crash between
  // the rename and the update of `latest`) is complete.
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    try {
      verify_checkpoint_file(it->file);
      return *it;
    } catch (const Error& e) {
      log_warn("skipping checkpoint '{}', which does not verify: {}", it->dir, e.what());
    }
  }
  return std::nullopt;
}

void prune_checkpoints(const std::string& dir, const RetentionPolicy& retention) {
  if (retention.keep_last <= 0) return;
  std::vector<FoundCheckpoint> all = list_checkpoints(dir);
  const std::size_t keep_from = all.size() > static_cast<std::size_t>(retention.keep_last)
                                    ? all.size() - static_cast<std::size_t>(retention.keep_last)
                                    : 0;
  for (std::size_t i = 0; i < keep_from; ++i) {
    const auto& c = all[i];
    if (retention.keep_every > 0 && c.step % retention.keep_every == 0) continue;
    if (std::find(retention.keep_steps.begin(), retention.keep_steps.end(), c.step) != retention.keep_steps.end())
      continue;
    const fs::path doomed = fs::path(c.dir).string() + ".pruned.tmp";
    rename_or_fail(c.dir, doomed);
    std::error_code ec;
    fs::remove_all(doomed, ec);
    if (ec) log_warn("cannot remove pruned checkpoint '{}': {}", doomed.string(), ec.message());
  }
  fsync_path(dir);
}

std::string save_checkpoint(const std::string& dir, const CheckpointState& mine, const CheckpointGroup& group,
                            const RetentionPolicy& retention) {
  const fs::path root(dir);
  const std::string name = step_dir_name(mine.meta.step);
  const fs::path tmp_dir = root / (name + ".tmp");
  const fs::path final_dir = root / name;
  const std::string tmp_file = (tmp_dir / kStateFile).string();

  group.on_rank0(fmt::format("to prepare checkpoint directory '{}'", tmp_dir.string()), [&] {
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec) fail("cannot create checkpoint directory '{}': {}", dir, ec.message());
    remove_tmp_dirs(root);  // leftovers of interrupted saves and prunes
    fs::create_directory(tmp_dir, ec);
    if (ec) fail("cannot create '{}': {}", tmp_dir.string(), ec.message());
  });

  write_checkpoint_file(tmp_file, mine, group);

  group.on_rank0(fmt::format("to publish checkpoint '{}'", final_dir.string()), [&] {
    // The flush waits on the disk, the verifying re-read hashes the file
    // from the page cache: run them at once, and rename only after both. The
    // helper thread makes plain fsync calls, no HDF5.
    std::exception_ptr flush_error;
    std::thread flusher([&] {
      try {
        fsync_path(tmp_file);
        fsync_path(tmp_dir.string());
      } catch (...) {
        flush_error = std::current_exception();
      }
    });
    try {
      verify_checkpoint_file(tmp_file);
    } catch (...) {
      flusher.join();
      throw;
    }
    flusher.join();
    if (flush_error) std::rethrow_exception(flush_error);
    std::error_code ec;
    // Saving a step that is already published (e.g. again after a resume):
    // the old copy goes first, since rename() cannot replace a non-empty
    // directory. Until the rename, `latest` may name a missing directory;
    // find_latest_complete then falls back to the newest one present.
    if (fs::exists(final_dir, ec)) {
      const fs::path old = final_dir.string() + ".replaced.tmp";
      rename_or_fail(final_dir, old);
      fs::remove_all(old, ec);
    }
    rename_or_fail(tmp_dir, final_dir);
    fsync_path(dir);
    write_latest(root, name);
    prune_checkpoints(dir, retention);
  });
  return (final_dir / kStateFile).string();
}

}  // namespace pouch
