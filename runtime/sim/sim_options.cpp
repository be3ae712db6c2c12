#include "runtime/sim/sim_options.h"

#include <cstdlib>
#include <string>

#include "runtime/error.h"

namespace pouch {
namespace {

std::int64_t parse_count(const std::string& text, const char* var) {
  std::size_t used = 0;
  long long v = -1;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || v < 0)
    throw Error(fmt::format("{}={}: expected a non-negative integer (or min:max for POUCH_SIM_DELAY_US)", var, text));
  return v;
}

}  // namespace

SimOptions SimOptions::from_env() {
  SimOptions o;
  if (const char* d = std::getenv("POUCH_SIM_DELAY_US"); d != nullptr && *d != '\0') {
    const std::string s(d);
    const auto colon = s.find(':');
    if (colon == std::string::npos) {
      o.max_delay_us = parse_count(s, "POUCH_SIM_DELAY_US");
    } else {
      o.min_delay_us = parse_count(s.substr(0, colon), "POUCH_SIM_DELAY_US");
      o.max_delay_us = parse_count(s.substr(colon + 1), "POUCH_SIM_DELAY_US");
    }
    if (o.min_delay_us > o.max_delay_us)
      throw Error(fmt::format("POUCH_SIM_DELAY_US={}: min {} exceeds max {}", s, o.min_delay_us, o.max_delay_us));
  }
  if (const char* s = std::getenv("POUCH_SIM_SEED"); s != nullptr && *s != '\0')
    o.delay_seed = static_cast<std::uint64_t>(parse_count(s, "POUCH_SIM_SEED"));
  if (const char* s = std::getenv("POUCH_SIM_SYNC"); s != nullptr && *s != '\0') {
    const std::string v(s);
    if (v != "0" && v != "1") throw Error(fmt::format("POUCH_SIM_SYNC={}: expected 0 or 1", v));
    o.sync_each_op = v == "1";
  }
  return o;
}

}  // namespace pouch
