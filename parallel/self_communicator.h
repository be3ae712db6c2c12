#pragma once
// The world of one: a Communicator of size 1, used when no launcher started
// pouch (no MPI is initialised at all). Every collective completes inside the
// call (all-reduce, broadcast and barrier leave the data as it is;
// reduce-scatter and all-gather copy in to out) and returns a finished Work;
// arguments are validated exactly as the MPI communicator does, so a
// shape bug shows up on one process too.
#include <cstdint>
#include <string>

#include "parallel/communicator.h"

namespace pouch {

class SelfCommunicator final : public Communicator {
 public:
  explicit SelfCommunicator(std::string name = "world") : name_(std::move(name)) {}

  int rank() const override { return 0; }
  int size() const override { return 1; }
  const std::string& name() const override { return name_; }

  WorkHandle all_reduce_async(const Tensor& t, ReduceOp op) override;
  WorkHandle reduce_scatter_async(const Tensor& out, const Tensor& in, ReduceOp op) override;
  WorkHandle all_gather_async(const Tensor& out, const Tensor& in) override;
  WorkHandle broadcast_async(const Tensor& t, int root) override;
  WorkHandle barrier_async() override;

 private:
  WorkHandle finished();

  std::string name_;
  std::uint64_t sequence_ = 0;
};

}  // namespace pouch
