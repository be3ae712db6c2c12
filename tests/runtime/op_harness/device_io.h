#pragma once
// Inputs and outputs of the harness's cases on any backend: seeded random
// host values, moved to the backend's device with Backend::empty/copy (the
// host accessors refuse device tensors), outputs poisoned with NaN there, and
// results read back through a host buffer after synchronize().
#include <cstdint>
#include <random>
#include <vector>

#include "runtime/backend.h"
#include "tests/runtime/op_harness/op_case.h"

namespace pouch::op_harness {

using i64 = std::int64_t;

class Rng {
 public:
  explicit Rng(std::uint32_t seed) : gen_(seed) {}
  // n floats uniform in [lo, hi).
  std::vector<float> uniform(i64 n, float lo = -1.0f, float hi = 1.0f);
  // n ints uniform in [lo, hi].
  std::vector<std::int32_t> ints(i64 n, std::int32_t lo, std::int32_t hi);
  std::mt19937& engine() { return gen_; }

 private:
  std::mt19937 gen_;
};

Vec to_vec(const std::vector<float>& v);
// The float rounding of each value (what a double result becomes as a kernel input).
std::vector<float> to_floats(const Vec& v);

// A tensor of be's device holding v (F32) or ids (I32), or a copy of a host tensor of any dtype.
Tensor upload(Backend& be, const std::vector<float>& v, Shape shape);
Tensor upload_ids(Backend& be, const std::vector<std::int32_t>& ids, Shape shape);
Tensor upload_host(Backend& be, const Tensor& host);
// An output of be's device whose every element is NaN ("=" outputs must overwrite it).
Tensor poisoned(Backend& be, Shape shape, DType dtype = DType::F32);
// t's values on the host, after everything queued before has run.
Vec download(Backend& be, const Tensor& t);

// A host tensor of random values of dtype: floats for F32/F64, ints for
// I32/I8, random bits for the 16-bit types.
Tensor random_host(DType dtype, Shape shape, Rng& rng);
// A host tensor's elements as doubles (bit patterns for the 16-bit types).
Vec host_values(const Tensor& host);

}  // namespace pouch::op_harness
