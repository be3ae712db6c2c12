#include "launcher/stop_signals.h"

#include <csignal>

#include "runtime/stop_request.h"

namespace pouch {

namespace {
extern "C" void on_stop_signal(int signal) { request_stop(signal); }
}  // namespace

void install_stop_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // SA_RESTART: system calls in flight (file writes, MPI's) resume instead of failing with EINTR.
  action.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &action, nullptr);
  sigaction(SIGUSR2, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace pouch
