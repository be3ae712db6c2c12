#pragma once
// The one-line progress report printed every [log] every steps:
//   step   120/600 | loss 1.2345 | lr 1.00e-03 | 41.2k tok/s | MFU 38.1% | ETA 1m12s
#include <cstdint>
#include <string>

namespace pouch {

struct ProgressInfo {
  std::int64_t step = 0;  // 1-based steps completed
  std::int64_t total = 0;
  double loss = 0.0;
  double lr = 0.0;
  double tokens_per_s = 0.0;
  double mfu = 0.0;  // fraction of peak, 0..1
  double eta_s = 0.0;
};

std::string format_progress(const ProgressInfo& p);
std::string format_duration(double seconds);  // 45s, 3m05s, 2h03m

}  // namespace pouch
