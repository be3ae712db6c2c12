#include <algorithm>

#include "tests/runtime/op_harness/op_case.h"

namespace pouch::op_harness {

double error_bound(Precision p) {
  switch (p) {
    case Precision::F32:
      return 1e-5;
    case Precision::BF16:
      return 1e-2;
    case Precision::Exact:
      return 0.0;
  }
  return 0.0;
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::F32:
      return "f32";
    case Precision::BF16:
      return "bf16";
    case Precision::Exact:
      return "exact";
  }
  return "?";
}

const std::vector<OpCase>& all_cases() {
  static const std::vector<OpCase> cases = [] {
    std::vector<OpCase> c;
    add_memory_cases(c);
    add_dense_cases(c);
    add_pointwise_cases(c);
    add_precision_cases(c);
    add_embedding_cases(c);
    add_attention_cases(c);
    add_loss_cases(c);
    add_policy_cases(c);
    add_optimizer_cases(c);
    return c;
  }();
  return cases;
}

std::vector<std::string> op_names() {
  std::vector<std::string> names;
  for (const OpCase& c : all_cases())
    if (std::find(names.begin(), names.end(), c.op) == names.end()) names.push_back(c.op);
  return names;
}

}  // namespace pouch::op_harness
