#include "runtime/stop_request.h"

#include <atomic>

namespace pouch {

namespace {
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "a signal handler may only touch lock-free atomics");
}  // namespace

void request_stop(int signal) {
  int none = 0;
  g_stop_signal.compare_exchange_strong(none, signal);
}

int stop_requested() { return g_stop_signal.load(); }

void clear_stop_request() { g_stop_signal.store(0); }

}  // namespace pouch
