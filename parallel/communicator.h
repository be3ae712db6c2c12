#pragma once
// The collective-communication interface. Implementations: MpiCommunicator
// (Open MPI; a communication thread runs the async forms), FakeCommunicator
// (in-process ranks on threads, with injectable failures and delays, for unit
// tests), SelfCommunicator (a world of one); for device tensors
// StagedCommunicator over any of them, NcclCommunicator later (CUDA streams).
//
// Contract, for every implementation:
//  - Every rank of the group issues the same collectives, with the same
//    shapes, dtypes and ops, in the same order. Blocking and async calls share
//    one sequence; sequence numbers count from 1 per communicator.
//  - Async calls return at once with a Work handle; the operation runs on the
//    communicator's communication thread, in issue order. The caller must
//    keep the tensors alive and untouched until the Work is done.
//  - Blocking calls are async + Work::wait(): they wait at most the
//    communicator's deadline (parallel.timeout_s), after which the watchdog
//    prints the flight record and aborts the job (parallel/watchdog.h).
//  - A failed collective stores its error in the Work; wait() rethrows it.
//  - Tensors are contiguous tensors of F32, F64 or I32, CPU tensors for the
//    host communicators (MPI, Fake, Self); device tensors go through a
//    DeviceCommunicator (device_communicator.h), which stages them
//    (staged_communicator.h: there wait() is called on the thread that
//    drives the Backend). In-place forms overwrite their argument.
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include "runtime/tensor.h"

namespace pouch {

enum class ReduceOp { Sum, Avg, Max };
const char* reduce_op_name(ReduceOp op);

// Thrown by Work::wait() for a collective that failed or whose peer failed.
class CollectiveError : public Error {
 public:
  using Error::Error;
};

class Work {
 public:
  virtual ~Work() = default;
  // True once the operation has finished, successfully or not.
  virtual bool done() const = 0;
  // Waits up to `timeout`; true when finished (rethrows its error), false when
  // the time ran out (the operation is still pending).
  virtual bool wait_for(std::chrono::milliseconds timeout) = 0;
  // Waits up to the communicator's deadline; past it the watchdog fires.
  virtual void wait() = 0;
  // The stored failure, or null.
  virtual std::exception_ptr error() const = 0;
  // The collective's sequence number on its communicator (1-based).
  virtual std::uint64_t sequence() const = 0;
};
using WorkHandle = std::shared_ptr<Work>;

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "world", "tp", "dp", ...: names the group in logs and flight records.
  virtual const std::string& name() const = 0;

  // In place: t = op over ranks of t.
  virtual WorkHandle all_reduce_async(const Tensor& t, ReduceOp op) = 0;
  // in [size * n] -> out [n]: rank r gets op over ranks of in[r*n, (r+1)*n).
  virtual WorkHandle reduce_scatter_async(const Tensor& out, const Tensor& in, ReduceOp op) = 0;
  // in [n] -> out [size * n], rank r's in at out[r*n, (r+1)*n).
  virtual WorkHandle all_gather_async(const Tensor& out, const Tensor& in) = 0;
  // In place: every rank's t becomes root's t.
  virtual WorkHandle broadcast_async(const Tensor& t, int root) = 0;
  virtual WorkHandle barrier_async() = 0;

  // Times Work::wait() on a device tensor's collective blocked the host
  // because the collective had not finished (the staged path,
  // staged_communicator.h); 0 where waits never block on device work (host
  // tensors block by contract and are not counted). Never decreases.
  virtual std::int64_t host_blocks() const { return 0; }

  void all_reduce(const Tensor& t, ReduceOp op) { all_reduce_async(t, op)->wait(); }
  void reduce_scatter(const Tensor& out, const Tensor& in, ReduceOp op) { reduce_scatter_async(out, in, op)->wait(); }
  void all_gather(const Tensor& out, const Tensor& in) { all_gather_async(out, in)->wait(); }
  void broadcast(const Tensor& t, int root) { broadcast_async(t, root)->wait(); }
  void barrier() { barrier_async()->wait(); }
};

}  // namespace pouch
