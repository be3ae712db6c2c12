#pragma once
// What one collective call is: its kind, reduction, element type and counts.
// Every implementation builds one per call (validating the arguments the same
// way), records it in the flight recorder and prints it in watchdog reports;
// the fake also compares them across ranks to catch mismatched call orders.
#include <cstddef>
#include <cstdint>
#include <string>

#include "parallel/communicator.h"

namespace pouch {

enum class CollectiveKind { AllReduce, ReduceScatter, AllGather, Broadcast, Barrier };
const char* collective_kind_name(CollectiveKind kind);

struct CollectiveDesc {
  CollectiveKind kind = CollectiveKind::Barrier;
  ReduceOp op = ReduceOp::Sum;  // AllReduce, ReduceScatter only
  DType dtype = DType::F32;
  // Elements this rank contributes: all_reduce t.numel, reduce_scatter
  // in.numel (= size * out.numel), all_gather in.numel, broadcast t.numel.
  std::int64_t count = 0;
  int root = 0;  // Broadcast only

  // Bytes this rank sends into the collective (its input buffer).
  std::size_t bytes() const { return static_cast<std::size_t>(count) * dtype_size(dtype); }
  // "all_reduce(sum, f32 x 1024)", "broadcast(root 0, i32 x 8)", "barrier".
  std::string str() const;
  bool operator==(const CollectiveDesc&) const = default;
};

// Validate one call's arguments for a group of `size` ranks and describe it.
// Throw pouch::Error naming the group, the rank and the problem: a tensor that
// is undefined, not on the CPU, of an unsupported dtype (f32, f64, i32 are),
// too large for MPI's int counts, of mismatched sizes, Avg on integers, or a
// root outside the group.
struct GroupRef {
  const std::string& name;
  int rank;
  int size;
};
CollectiveDesc describe_all_reduce(const GroupRef& g, const Tensor& t, ReduceOp op);
CollectiveDesc describe_reduce_scatter(const GroupRef& g, const Tensor& out, const Tensor& in, ReduceOp op);
CollectiveDesc describe_all_gather(const GroupRef& g, const Tensor& out, const Tensor& in);
CollectiveDesc describe_broadcast(const GroupRef& g, const Tensor& t, int root);
CollectiveDesc describe_barrier();

}  // namespace pouch
