#pragma once
// SIGUSR1, SIGUSR2 and SIGTERM ask the run to checkpoint and stop
// (runtime/stop_request.h). USR2 for jobs whose other libraries take USR1
// (`pouch slurm --stop-signal=USR2`).
namespace pouch {

void install_stop_signal_handlers();

}  // namespace pouch
