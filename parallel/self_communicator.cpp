#include "parallel/self_communicator.h"

#include <cstring>

#include "parallel/collective_desc.h"
#include "parallel/work_queue.h"

namespace pouch {

WorkHandle SelfCommunicator::finished() {
  auto work = std::make_shared<CollectiveWork>(++sequence_);
  work->finish();
  return work;
}

WorkHandle SelfCommunicator::all_reduce_async(const Tensor& t, ReduceOp op) {
  describe_all_reduce({name_, 0, 1}, t, op);
  return finished();
}

WorkHandle SelfCommunicator::reduce_scatter_async(const Tensor& out, const Tensor& in, ReduceOp op) {
  describe_reduce_scatter({name_, 0, 1}, out, in, op);
  if (out.raw() != in.raw()) std::memmove(out.raw(), in.raw(), in.nbytes());
  return finished();
}

WorkHandle SelfCommunicator::all_gather_async(const Tensor& out, const Tensor& in) {
  describe_all_gather({name_, 0, 1}, out, in);
  if (out.raw() != in.raw()) std::memmove(out.raw(), in.raw(), in.nbytes());
  return finished();
}

WorkHandle SelfCommunicator::broadcast_async(const Tensor& t, int root) {
  describe_broadcast({name_, 0, 1}, t, root);
  return finished();
}

WorkHandle SelfCommunicator::barrier_async() { return finished(); }

}  // namespace pouch
