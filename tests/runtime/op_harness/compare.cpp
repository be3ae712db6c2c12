#include "tests/runtime/op_harness/compare.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace pouch::op_harness {

Comparison compare(const Vec& got, const Vec& want, double bound) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  Comparison c;
  if (got.size() != want.size()) {
    c.error = kInf;
    c.detail = fmt::format("{} elements, the reference has {}", got.size(), want.size());
    return c;
  }
  double diff2 = 0.0, want2 = 0.0, worst = -1.0;
  std::size_t worst_at = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i]) || std::isnan(want[i])) {
      c.error = kInf;
      c.detail = fmt::format("element {} of {} is NaN: got {}, reference {}", i, got.size(), got[i], want[i]);
      return c;
    }
    if (std::isinf(want[i]) || std::isinf(got[i])) {
      if (got[i] == want[i]) continue;
      c.error = kInf;
      c.detail = fmt::format("element {} of {}: got {}, reference {}", i, got.size(), got[i], want[i]);
      return c;
    }
    const double d = got[i] - want[i];
    diff2 += d * d;
    want2 += want[i] * want[i];
    if (std::abs(d) > worst) {
      worst = std::abs(d);
      worst_at = i;
    }
  }
  c.error = want2 > 0.0 ? std::sqrt(diff2 / want2) : std::sqrt(diff2);
  c.ok = c.error <= bound;
  if (!c.ok)
    c.detail = fmt::format("farthest off: element {} of {}, got {:.9g}, reference {:.9g}", worst_at, got.size(),
                           got[worst_at], want[worst_at]);
  return c;
}

}  // namespace pouch::op_harness
