#pragma once
// Settings every Communicator implementation takes.
#include <memory>

namespace pouch {

class FlightRecorder;
class WatchdogPolicy;

// How MpiCommunicator's communication thread waits for peers that have not
// reached the collective yet.
//  Spin:  the blocking MPI call at once; MPI busy-polls while it waits. The
//         lowest latency; right when every rank has its own cores. Wrong
//         when spinning threads share a core with the threads they wait on:
//         two communicators busy at once in ranks of one core each took
//         0.2 s for 40 small all-reduces (1 ms with Sleep).
//  Sleep: first an arrival handshake (MPI_Ibarrier polled for 200 us, then
//         with sleeps of up to 250 us), then the blocking MPI call. A rank
//         waiting for a late peer leaves its core to the compute threads and
//         to the peer itself; costs the ranks' skew once per collective
//         (~20 us of a 0.17 ms 1 MiB all-reduce on a 2-core VM).
//         But a sleeping thread wakes late when its core is busy computing
//         (the scheduler's wake-up granularity is ~1 ms): `pouch bench dp`
//         with 2 ranks of one core each exposed 7 ms of all-reduce per step
//         with Sleep, 0.7 ms with Spin.
//  Auto:  Sleep when more ranks share this node than they have CPUs (the
//         union of their affinity masks): oversubscribed, a spinning rank
//         starves the very peer it waits for. Else Spin. ParallelContext
//         decides from all the job's ranks on the node, MpiCommunicator alone
//         from its own group's.
enum class PeerWait { Auto, Spin, Sleep };
const char* peer_wait_name(PeerWait mode);

struct CommOptions {
  // The deadline of each collective, from the moment it starts running on the
  // communication thread (parallel.timeout_s).
  double timeout_s = 300.0;
  // Shared by all communicators of a rank; null: the communicator keeps one
  // of its own (64 entries).
  std::shared_ptr<FlightRecorder> recorder;
  // What a deadline expiry does; null: the implementation's default
  // (MpiCommunicator: AbortJobPolicy; FakeCommunicator: RecordingPolicy).
  std::shared_ptr<WatchdogPolicy> policy;
  // MpiCommunicator only.
  PeerWait peer_wait = PeerWait::Auto;
};

}  // namespace pouch
