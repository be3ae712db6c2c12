#pragma once
// A request to stop a run at the next step boundary, after a checkpoint:
// what Slurm's SIGUSR1 (--signal, before the time limit) and SIGTERM
// (preemption, scancel) mean to pouch. Set from a signal handler, so it is a
// lock-free atomic and nothing else.
namespace pouch {

// Async-signal-safe: records `signal` (the first one wins).
void request_stop(int signal);
// 0 when no stop was requested, else the signal number.
int stop_requested();
void clear_stop_request();

// Exit status of a run that stopped on request after writing its checkpoint
// (EX_TEMPFAIL of sysexits.h: "try again", i.e. resume or requeue).
inline constexpr int kExitStoppedForResume = 75;

}  // namespace pouch
