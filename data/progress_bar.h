#pragma once
// A progress bar on stderr for long data jobs:
//   prepare: encoding [##########..........]  48%  51.2/106.0 MB  9.8 MB/s  ETA 6s
// On a terminal it redraws one line at most 5 times a second; otherwise
// (a log file) it prints a line at every 10% step. Below `min_total` units
// it prints nothing, so small inputs stay quiet.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace pouch {

class ProgressBar {
 public:
  ProgressBar(std::string label, std::int64_t total_bytes, std::int64_t min_total = 16 << 20, std::FILE* out = stderr);
  ~ProgressBar();
  void advance(std::int64_t bytes);
  void finish();

  // The bar's text for done/total bytes after `seconds` (no line control).
  static std::string format(const std::string& label, std::int64_t done, std::int64_t total, double seconds);

 private:
  void draw(bool force);

  std::string label_;
  std::int64_t total_, done_ = 0;
  std::FILE* out_;
  bool enabled_, tty_, finished_ = false;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace pouch
