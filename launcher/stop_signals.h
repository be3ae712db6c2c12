#pragma once
// SIGUSR1 and SIGTERM ask the run to checkpoint and stop (runtime/stop_request.h).
namespace pouch {

void install_stop_signal_handlers();

}  // namespace pouch
