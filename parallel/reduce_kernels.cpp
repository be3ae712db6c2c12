#include "parallel/reduce_kernels.h"

#include <algorithm>
#include <cstdint>

namespace pouch {

namespace {

template <typename T>
void accumulate_as(T* acc, const T* x, std::int64_t n, ReduceOp op) {
  if (op == ReduceOp::Max) {
    for (std::int64_t i = 0; i < n; ++i) acc[i] = std::max(acc[i], x[i]);
  } else {
    for (std::int64_t i = 0; i < n; ++i) acc[i] += x[i];
  }
}

template <typename T>
void divide_as(T* t, std::int64_t n, int by) {
  const T d = static_cast<T>(by);
  for (std::int64_t i = 0; i < n; ++i) t[i] /= d;
}

}  // namespace

void accumulate(const Tensor& acc, const Tensor& x, ReduceOp op) {
  POUCH_CHECK(acc.dtype() == x.dtype() && acc.numel() == x.numel(), "accumulate of mismatched tensors");
  switch (acc.dtype()) {
    case DType::F32:
      return accumulate_as(acc.data<float>(), x.data<float>(), acc.numel(), op);
    case DType::F64:
      return accumulate_as(acc.data<double>(), x.data<double>(), acc.numel(), op);
    case DType::I32:
      return accumulate_as(acc.data<std::int32_t>(), x.data<std::int32_t>(), acc.numel(), op);
    default:
      POUCH_CHECK(false, "accumulate of dtype {}", dtype_name(acc.dtype()));
  }
}

void divide(const Tensor& t, int n) {
  switch (t.dtype()) {
    case DType::F32:
      return divide_as(t.data<float>(), t.numel(), n);
    case DType::F64:
      return divide_as(t.data<double>(), t.numel(), n);
    default:
      POUCH_CHECK(false, "divide of dtype {}", dtype_name(t.dtype()));
  }
}

Tensor reduce_in_rank_order(const std::vector<Tensor>& inputs, ReduceOp op) {
  POUCH_CHECK(!inputs.empty(), "reduce of no tensors");
  Tensor acc = inputs[0].clone();
  for (std::size_t r = 1; r < inputs.size(); ++r) accumulate(acc, inputs[r], op);
  if (op == ReduceOp::Avg) divide(acc, static_cast<int>(inputs.size()));
  return acc;
}

}  // namespace pouch
