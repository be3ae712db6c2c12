#include "bench/checkpoint_bench.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "checkpoint/atomic_file.h"
#include "checkpoint/checkpoint_dir.h"
#include "checkpoint/training_checkpoint.h"
#include "model/gpt.h"
#include "phases/schedule/run_state.h"
#include "runtime/adamw_optimizer.h"
#include "runtime/error.h"

namespace pouch {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kChunk = std::size_t{4} << 20;  // dd's bs=4M

double seconds_of(const std::function<void()>& fn) {
  const auto t0 = Clock::now();
  fn();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Start each measurement with no dirty pages of earlier ones (or of other
// processes) still queued for the disk, so it pays for its own bytes only.
void settle() { ::sync(); }

// Drops `path`'s clean pages from the page cache (it was fsync'ed), so the
// next read comes from the disk: a resume after a restart, without dropping
// the whole machine's cache.
void drop_cached_pages(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open '{}': {}", path, std::strerror(errno));
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

// The yardstick: the state's own buffers written with plain write() in
// 4 MiB calls to a new file, then fsync (what dd conv=fsync does). Returns
// the seconds before the fsync (the copy into the page cache).
double raw_write_fsync(const std::string& path, const std::vector<const Tensor*>& buffers) {
  const auto t0 = Clock::now();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create '{}': {}", path, std::strerror(errno));
  for (const Tensor* t : buffers) {
    const char* p = static_cast<const char*>(t->raw());
    std::size_t left = t->nbytes();
    while (left > 0) {
      const ssize_t n = ::write(fd, p, std::min(left, kChunk));
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd);
        fail("cannot write '{}': {}: check free disk space", path, std::strerror(err));
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  const double written = std::chrono::duration<double>(Clock::now() - t0).count();
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) fail("cannot fsync '{}': {}", path, std::strerror(err));
  return written;
}

struct DdRun {
  double seconds = 0;
  std::int64_t bytes = 0;
};

// dd's closing line: "N bytes (...) copied, S s, R MB/s". Bytes and seconds
// are parsed (its rate is rounded and its unit varies).
DdRun run_dd(const std::string& path, std::int64_t count) {
  const std::string cmd = fmt::format("LC_ALL=C dd if=/dev/zero of='{}' bs=4M count={} conv=fsync 2>&1", path, count);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) fail("cannot run '{}'", cmd);
  std::string out;
  std::array<char, 512> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
  DdRun r;
  const auto copied = out.find(" copied, ");
  const auto line = out.rfind('\n', copied == std::string::npos ? 0 : copied);
  long long bytes = 0;
  if (copied == std::string::npos ||
      std::sscanf(out.c_str() + (line == std::string::npos ? 0 : line + 1), "%lld bytes", &bytes) != 1 ||
      std::sscanf(out.c_str() + copied, " copied, %lf s", &r.seconds) != 1 || r.seconds <= 0)
    fail("dd printed no rate: {}", out.substr(0, 400));
  r.bytes = bytes;
  return r;
}

// Scratch files of one measurement; a leftover only costs disk space.
void remove_scratch(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
}

double mbps(std::int64_t bytes, double s) { return s > 0 ? static_cast<double>(bytes) / s / 1e6 : 0.0; }

}  // namespace

CkptBenchResult run_checkpoint_bench(const CkptBenchConfig& cfg) {
  POUCH_CHECK(cfg.repeats > 0, "repeats must be positive");
  const fs::path dir(cfg.dir);
  std::error_code ec;
  const bool created = fs::create_directories(dir, ec);
  if (ec) fail("cannot create benchmark directory '{}': {}", cfg.dir, ec.message());

  auto cpu = make_backend(Device::CPU);
  GPT model(cfg.model, *cpu);
  model.init_weights(0);
  AdamWOptimizer opt(model.parameters(), OptimConfig{}, *cpu);
  // Moments as after some training (the file does not care, but a zero page
  // is no fair sample of anything).
  opt.exp_avg().fill_(1e-3f);
  opt.exp_avg_sq().fill_(1e-6f);
  opt.set_steps_taken(100);

  RunPosition pos{100, 100 * cfg.model.seq_len, 100};
  CheckpointState state = capture_run_state(model, opt, pos);
  state.meta.phase = "pretrain";
  state.meta.config_ini = "[bench]\n";
  CkptBenchResult r;
  std::vector<const Tensor*> buffers;
  for (const auto* group : {&state.model, &state.optim_m, &state.optim_v})
    for (const auto& t : *group) {
      r.state_bytes += static_cast<std::int64_t>(t.local.nbytes());
      buffers.push_back(&t.local);
    }
  const std::int64_t dd_count =
      (r.state_bytes + static_cast<std::int64_t>(kChunk) - 1) / static_cast<std::int64_t>(kChunk);
  std::printf("model: layers %lld, d_model %lld, heads %lld, seq %lld, vocab %lld: %lld parameters\n",
              static_cast<long long>(cfg.model.layers), static_cast<long long>(cfg.model.d_model),
              static_cast<long long>(cfg.model.heads), static_cast<long long>(cfg.model.seq_len),
              static_cast<long long>(cfg.model.vocab_size), static_cast<long long>(model.parameters().numel()));
  std::printf("state: %lld bytes (%.1f MB) = weights + AdamW m + v, f32; %d repetitions, medians; dir %s\n",
              static_cast<long long>(r.state_bytes), r.state_bytes / 1e6, cfg.repeats, cfg.dir.c_str());

  const std::string raw_path = (dir / "raw.bin").string();
  const std::string dd_path = (dir / "dd.bin").string();
  const fs::path file_dir = dir / "file";
  const std::string file_path = (file_dir / "state.h5").string();
  const fs::path run_dir = dir / "run";
  fs::create_directories(file_dir, ec);
  if (ec) fail("cannot create '{}': {}", file_dir.string(), ec.message());
  remove_scratch(run_dir);

  std::vector<double> raw, raw_write, dd, dd_bps, fw, ff, file, verify, publish, rv, rn, rcv, rcn;
  for (int rep = 0; rep < cfg.repeats; ++rep) {
    settle();
    raw.push_back(seconds_of([&] { raw_write.push_back(raw_write_fsync(raw_path, buffers)); }));
    remove_scratch(raw_path);

    settle();
    const DdRun d = run_dd(dd_path, dd_count);
    dd_bps.push_back(static_cast<double>(d.bytes) / d.seconds);
    dd.push_back(static_cast<double>(r.state_bytes) / dd_bps.back());
    remove_scratch(dd_path);

    settle();
    remove_scratch(file_path);
    const double w = seconds_of([&] { write_checkpoint_file(file_path, state, CheckpointGroup::single()); });
    const double f = seconds_of([&] { fsync_path(file_path); });
    fw.push_back(w);
    ff.push_back(f);
    file.push_back(w + f);
    r.file_bytes = static_cast<std::int64_t>(fs::file_size(file_path));
    // The verifying re-read save_checkpoint does, on its own: the file is
    // still in the page cache, so this is the checksum pass, not the disk.
    verify.push_back(seconds_of([&] { verify_checkpoint_file(file_path); }));

    settle();
    state.meta.step = 100 + rep;
    std::string published;
    publish.push_back(
        seconds_of([&] { published = save_checkpoint(run_dir.string(), state, CheckpointGroup::single()); }));

    rv.push_back(seconds_of([&] { restore_run_state(published, model, opt, 0, true); }));
    rn.push_back(seconds_of([&] { restore_run_state(published, model, opt, 0, false); }));
    drop_cached_pages(published);
    rcv.push_back(seconds_of([&] { restore_run_state(published, model, opt, 0, true); }));
    drop_cached_pages(published);
    rcn.push_back(seconds_of([&] { restore_run_state(published, model, opt, 0, false); }));
    remove_scratch(run_dir);

    std::printf(
        "rep %d: raw %.3f s (write %.3f), dd %.3f s, file %.3f s (write %.3f + fsync %.3f), verify %.3f s, publish "
        "%.3f s, "
        "resume %.3f/%.3f s (verify/not), cold %.3f/%.3f s\n",
        rep + 1, raw.back(), raw_write.back(), dd.back(), file.back(), w, f, verify.back(), publish.back(), rv.back(),
        rn.back(), rcv.back(), rcn.back());
    std::fflush(stdout);
  }
  remove_scratch(file_dir);
  if (created) fs::remove(dir, ec);  // only if empty: never another's files

  r.raw_s = median(raw);
  r.raw_write_s = median(raw_write);
  r.dd_s = median(dd);
  r.dd_reported_bps = median(dd_bps);
  r.file_write_s = median(fw);
  r.file_fsync_s = median(ff);
  r.file_s = median(file);
  r.verify_hot_s = median(verify);
  r.publish_s = median(publish);
  r.resume_verify_s = median(rv);
  r.resume_noverify_s = median(rn);
  r.resume_cold_verify_s = median(rcv);
  r.resume_cold_noverify_s = median(rcn);

  const std::int64_t B = r.state_bytes;
  std::printf("\nthroughput, bytes of state per second (median of %d):\n", cfg.repeats);
  std::printf("  raw write()+fsync (yardstick) %8.1f MB/s  %.3f s\n", mbps(B, r.raw_s), r.raw_s);
  std::printf("  dd bs=4M conv=fsync           %8.1f MB/s  %.3f s for the state's bytes\n", mbps(B, r.dd_s), r.dd_s);
  std::printf("  checkpoint file + fsync       %8.1f MB/s  %.3f s  ratio %.2f to raw, %.2f to dd\n", mbps(B, r.file_s),
              r.file_s, r.raw_s / r.file_s, r.dd_s / r.file_s);
  std::printf("  publish (save_checkpoint)     %8.1f MB/s  %.3f s  ratio %.2f to raw, %.2f to dd\n",
              mbps(B, r.publish_s), r.publish_s, r.raw_s / r.publish_s, r.dd_s / r.publish_s);
  std::printf("file: %lld bytes (%.2f%% over the state)\n", static_cast<long long>(r.file_bytes),
              100.0 * static_cast<double>(r.file_bytes - B) / static_cast<double>(B));
  std::printf(
      "breakdown: raw write() %.3f s + fsync %.3f s; write_checkpoint_file %.3f s (to the page cache, "
      "checksums, early writeback) + fsync %.3f s; checksum re-read (verify, page cache) %.3f s on its own; "
      "publish - file = %.3f s (verify, overlapping the fsync in save_checkpoint; dir fsyncs, rename, "
      "latest)\n",
      r.raw_write_s, r.raw_s - r.raw_write_s, r.file_write_s, r.file_fsync_s, r.verify_hot_s, r.publish_s - r.file_s);
  std::printf(
      "resume (restore_run_state): page cache %.3f s with verify, %.3f s without; "
      "cold %.3f s with verify, %.3f s without (%.1f MB/s)\n",
      r.resume_verify_s, r.resume_noverify_s, r.resume_cold_verify_s, r.resume_cold_noverify_s,
      mbps(B, r.resume_cold_noverify_s));
  return r;
}

}  // namespace pouch
