#pragma once
// Element-wise reductions on host tensors of f32, f64 or i32, shared by the
// fake communicator (which reduces in-process) and the MPI one (which
// finishes Avg as sum / size).
#include <vector>

#include "parallel/communicator.h"

namespace pouch {

// acc = acc (op) x, element-wise; Avg accumulates like Sum.
void accumulate(const Tensor& acc, const Tensor& x, ReduceOp op);
// t /= n (f32, f64).
void divide(const Tensor& t, int n);
// A new tensor: inputs[0] (op) inputs[1] (op) ..., in rank order, so the
// result is deterministic; Avg divides the sum by inputs.size() at the end.
Tensor reduce_in_rank_order(const std::vector<Tensor>& inputs, ReduceOp op);

}  // namespace pouch
