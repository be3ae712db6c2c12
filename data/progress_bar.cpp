#include "data/progress_bar.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

namespace pouch {

namespace {
// 45s, 3m05s, 2h03m.
std::string short_duration(double seconds) {
  const auto s = static_cast<std::int64_t>(seconds + 0.5);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
}
}  // namespace

ProgressBar::ProgressBar(std::string label, std::int64_t total_bytes, std::int64_t min_total, std::FILE* out)
    : label_(std::move(label)),
      total_(std::max<std::int64_t>(total_bytes, 1)),
      out_(out),
      enabled_(total_bytes >= min_total),
      tty_(::isatty(::fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() { finish(); }

std::string ProgressBar::format(const std::string& label, std::int64_t done, std::int64_t total, double seconds) {
  constexpr int kWidth = 20;
  const double frac =
      std::clamp(static_cast<double>(done) / static_cast<double>(std::max<std::int64_t>(total, 1)), 0.0, 1.0);
  const int filled = static_cast<int>(frac * kWidth);
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  std::string eta = rate > 0 ? short_duration(static_cast<double>(total - done) / rate) : std::string("?");
  return fmt::format("{} [{}{}] {:3.0f}%  {:.1f}/{:.1f} MB  {:.1f} MB/s  ETA {}", label, std::string(filled, '#'),
                     std::string(kWidth - filled, '.'), 100.0 * frac, done / 1e6, total / 1e6, rate / 1e6, eta);
}

void ProgressBar::advance(std::int64_t bytes) {
  done_ = std::min(total_, done_ + bytes);
  draw(false);
}

void ProgressBar::draw(bool force) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - start_).count();
  if (tty_) {
    if (!force && now - last_draw_ < std::chrono::milliseconds(200)) return;
    last_draw_ = now;
    std::fprintf(out_, "\r%s\x1b[K", format(label_, done_, total_, seconds).c_str());
  } else {
    const int decile = static_cast<int>(10 * done_ / total_);
    if (!force && decile == last_decile_) return;
    last_decile_ = decile;
    std::fprintf(out_, "%s\n", format(label_, done_, total_, seconds).c_str());
  }
  std::fflush(out_);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  if (tty_) {
    draw(true);
    std::fputc('\n', out_);
  } else if (last_decile_ < 10) {
    draw(true);
  }
  std::fflush(out_);
}

}  // namespace pouch
