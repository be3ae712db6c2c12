#pragma once
// What the case files share: reading a backend tensor back as a named output,
// and the shared ownership of a case's inputs between its two closures.
#include <memory>
#include <string>

#include "tests/runtime/op_harness/device_io.h"

namespace pouch::op_harness {

inline Output read(Backend& be, std::string name, const Tensor& t) { return {std::move(name), download(be, t)}; }

// A case's inputs, made once from the seed and read by both run and reference.
template <typename Inputs>
std::shared_ptr<const Inputs> share(Inputs in) {
  return std::make_shared<const Inputs>(std::move(in));
}

}  // namespace pouch::op_harness
