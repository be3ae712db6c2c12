#pragma once
// The op harness's case model (in the style of ggml's test-backend-ops): one
// OpCase is one call pattern of one Backend op (shapes, optional outputs,
// aliasing, hyper-parameters). Built from a seed, it yields a Problem: the
// same inputs run on a backend, and the same inputs evaluated by the double
// reference (reference.h). The comparison (compare.h) reads both back as
// doubles, output by output.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/backend.h"

namespace pouch::op_harness {

using Vec = std::vector<double>;

// One result of a case, read back to the host: for float tensors the values,
// for the 16- and 8-bit storage types the bit patterns (memory ops compare
// them exactly), for scalars one element.
struct Output {
  std::string name;
  Vec values;
};
using Outputs = std::vector<Output>;

// The error bound of a case (relative L2, compare.h): by the dtype the op
// computes in, or exact for ops that move bits (copies, fills).
enum class Precision { F32, BF16, Exact };
double error_bound(Precision p);
const char* precision_name(Precision p);

struct Problem {
  std::function<Outputs(Backend&)> run;  // on the backend under test
  std::function<Outputs()> reference;    // the same inputs in double precision
};

struct OpCase {
  std::string op;       // the Backend method
  std::string variant;  // shapes, aliasing, optional outputs
  Precision precision = Precision::F32;
  std::function<Problem(std::uint32_t seed)> build;
};

// Every case, grouped by op in the order of backend.h.
const std::vector<OpCase>& all_cases();
// The distinct op names of all_cases(), in order.
std::vector<std::string> op_names();

// The case table, one function per file of cases (cases_*.cpp).
void add_dense_cases(std::vector<OpCase>& cases);
void add_pointwise_cases(std::vector<OpCase>& cases);
void add_precision_cases(std::vector<OpCase>& cases);
void add_embedding_cases(std::vector<OpCase>& cases);
void add_attention_cases(std::vector<OpCase>& cases);
void add_loss_cases(std::vector<OpCase>& cases);
void add_policy_cases(std::vector<OpCase>& cases);
void add_optimizer_cases(std::vector<OpCase>& cases);
void add_memory_cases(std::vector<OpCase>& cases);

}  // namespace pouch::op_harness
