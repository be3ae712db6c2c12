#pragma once
// The tensor-parallel group a model is sharded over, and the two conjugate
// operators of Megatron-LM (Shoeybi et al. 2019, fig. 3):
//   f: identity in forward, all-reduce (sum) of the input gradient in
//      backward: at the input of a column-parallel layer;
//   g: all-reduce (sum) of the partial outputs in forward, identity in
//      backward: at the output of a row-parallel layer.
// The model calls them through this small interface and never sees MPI.
// With no communicator (tp = 1) every operation is a no-op.
#include "parallel/communicator.h"
#include "runtime/tensor_shard.h"

namespace pouch {

class TensorParallelGroup {
 public:
  TensorParallelGroup() = default;
  explicit TensorParallelGroup(Communicator* comm) : comm_(comm && comm->size() > 1 ? comm : nullptr) {}

  int rank() const { return comm_ ? comm_->rank() : 0; }
  int size() const { return comm_ ? comm_->size() : 1; }
  Communicator* communicator() const { return comm_; }

  void all_reduce_sum(const Tensor& t) const {
    if (comm_) comm_->all_reduce(t, ReduceOp::Sum);
  }
  // The sum issued without waiting, so independent work can overlap it
  // (the column-parallel backward's dW); null when there is no group. The
  // caller waits on the handle before it reads t (on a device: before the
  // next work that reads t is enqueued).
  WorkHandle all_reduce_sum_async(const Tensor& t) const {
    return comm_ ? comm_->all_reduce_async(t, ReduceOp::Sum) : nullptr;
  }
  void all_reduce_max(const Tensor& t) const {
    if (comm_) comm_->all_reduce(t, ReduceOp::Max);
  }

  ShardSpec rows(int sections = 1, std::int64_t padded_rows = 0) const {
    return ShardSpec::rows(rank(), size(), sections, padded_rows);
  }
  ShardSpec columns() const { return ShardSpec::columns(rank(), size()); }

 private:
  Communicator* comm_ = nullptr;
};

}  // namespace pouch
