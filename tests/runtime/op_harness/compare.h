#pragma once
// The harness's pass rule: relative L2 error ||got - want|| / ||want|| within
// the case's bound (absolute L2 when the reference is all zeros, where a
// relative error has no meaning). NaN never passes, in either vector; an
// infinite reference value must be matched exactly and stays out of the norms.
#include <cstdint>
#include <string>

#include "tests/runtime/op_harness/op_case.h"

namespace pouch::op_harness {

struct Comparison {
  bool ok = false;
  double error = 0.0;  // relative L2 (absolute for an all-zero reference); inf for a mismatch of kind
  std::string detail;  // the first NaN or the element farthest off, on failure
};

Comparison compare(const Vec& got, const Vec& want, double bound);

}  // namespace pouch::op_harness
