#include "phases/common/progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace pouch {

std::string format_duration(double seconds) {
  const auto s = static_cast<std::int64_t>(std::llround(std::max(0.0, seconds)));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

// MFU comes from a PeakMeter, which keeps it in [0, 1]; a caller's own
// figure is clamped so the line never claims more than the peak.
std::string format_progress(const ProgressInfo& p) {
  const int width = static_cast<int>(fmt::format("{}", p.total).size());
  const std::string rate =
      p.tokens_per_s >= 1e4 ? fmt::format("{:.1f}k", p.tokens_per_s / 1e3) : fmt::format("{:.0f}", p.tokens_per_s);
  return fmt::format("step {:>{}}/{} | loss {:.4f} | lr {:.2e} | {} tok/s | MFU {:.1f}% | ETA {}", p.step, width,
                     p.total, p.loss, p.lr, rate, 100.0 * std::clamp(p.mfu, 0.0, 1.0), format_duration(p.eta_s));
}

}  // namespace pouch
