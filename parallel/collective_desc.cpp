#include "parallel/collective_desc.h"

#include <fmt/format.h>

#include <climits>

namespace pouch {

const char* collective_kind_name(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::AllReduce:
      return "all_reduce";
    case CollectiveKind::ReduceScatter:
      return "reduce_scatter";
    case CollectiveKind::AllGather:
      return "all_gather";
    case CollectiveKind::Broadcast:
      return "broadcast";
    case CollectiveKind::Barrier:
      return "barrier";
  }
  return "?";
}

std::string CollectiveDesc::str() const {
  switch (kind) {
    case CollectiveKind::AllReduce:
    case CollectiveKind::ReduceScatter:
      return fmt::format("{}({}, {} x {})", collective_kind_name(kind), reduce_op_name(op), dtype_name(dtype), count);
    case CollectiveKind::AllGather:
      return fmt::format("all_gather({} x {})", dtype_name(dtype), count);
    case CollectiveKind::Broadcast:
      return fmt::format("broadcast(root {}, {} x {})", root, dtype_name(dtype), count);
    case CollectiveKind::Barrier:
      return "barrier";
  }
  return "?";
}

namespace {

void check_tensor(const GroupRef& g, const char* what, const char* arg, const Tensor& t) {
  if (!t.defined()) fail("{} on group '{}' (rank {}): {} is an undefined tensor", what, g.name, g.rank, arg);
  if (t.device() != Device::CPU)
    fail("{} on group '{}' (rank {}): {} is not a CPU tensor; this communicator moves host memory", what, g.name,
         g.rank, arg);
  if (t.dtype() != DType::F32 && t.dtype() != DType::F64 && t.dtype() != DType::I32)
    fail("{} on group '{}' (rank {}): {} has dtype {}; collectives support f32, f64 and i32", what, g.name, g.rank, arg,
         dtype_name(t.dtype()));
  if (t.numel() > INT_MAX)
    fail("{} on group '{}' (rank {}): {} has {} elements, more than MPI's int count allows; split it", what, g.name,
         g.rank, arg, t.numel());
}

void check_op(const GroupRef& g, const char* what, DType dtype, ReduceOp op) {
  if (op == ReduceOp::Avg && dtype == DType::I32)
    fail("{} on group '{}' (rank {}): avg of i32 would truncate; reduce with sum and divide where it is used", what,
         g.name, g.rank);
}

}  // namespace

CollectiveDesc describe_all_reduce(const GroupRef& g, const Tensor& t, ReduceOp op) {
  check_tensor(g, "all_reduce", "the tensor", t);
  check_op(g, "all_reduce", t.dtype(), op);
  return {CollectiveKind::AllReduce, op, t.dtype(), t.numel(), 0};
}

CollectiveDesc describe_reduce_scatter(const GroupRef& g, const Tensor& out, const Tensor& in, ReduceOp op) {
  check_tensor(g, "reduce_scatter", "out", out);
  check_tensor(g, "reduce_scatter", "in", in);
  if (in.dtype() != out.dtype())
    fail("reduce_scatter on group '{}' (rank {}): in is {} but out is {}", g.name, g.rank, dtype_name(in.dtype()),
         dtype_name(out.dtype()));
  if (in.numel() != static_cast<std::int64_t>(g.size) * out.numel())
    fail("reduce_scatter on group '{}' (rank {}): in has {} elements, must be group size {} x out's {}", g.name, g.rank,
         in.numel(), g.size, out.numel());
  check_op(g, "reduce_scatter", in.dtype(), op);
  return {CollectiveKind::ReduceScatter, op, in.dtype(), in.numel(), 0};
}

CollectiveDesc describe_all_gather(const GroupRef& g, const Tensor& out, const Tensor& in) {
  check_tensor(g, "all_gather", "out", out);
  check_tensor(g, "all_gather", "in", in);
  if (in.dtype() != out.dtype())
    fail("all_gather on group '{}' (rank {}): in is {} but out is {}", g.name, g.rank, dtype_name(in.dtype()),
         dtype_name(out.dtype()));
  if (out.numel() != static_cast<std::int64_t>(g.size) * in.numel())
    fail("all_gather on group '{}' (rank {}): out has {} elements, must be group size {} x in's {}", g.name, g.rank,
         out.numel(), g.size, in.numel());
  return {CollectiveKind::AllGather, ReduceOp::Sum, in.dtype(), in.numel(), 0};
}

CollectiveDesc describe_broadcast(const GroupRef& g, const Tensor& t, int root) {
  check_tensor(g, "broadcast", "the tensor", t);
  if (root < 0 || root >= g.size)
    fail("broadcast on group '{}' (rank {}): root {} is not a rank of the group (size {})", g.name, g.rank, root,
         g.size);
  return {CollectiveKind::Broadcast, ReduceOp::Sum, t.dtype(), t.numel(), root};
}

CollectiveDesc describe_barrier() { return {}; }

}  // namespace pouch
