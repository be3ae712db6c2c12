#pragma once
// A scalar value head on a transformer trunk (the PPO critic, Schulman et al.
// 2017; as in InstructGPT's value model): v = hidden w^T + b, w [1, C],
// b [1], replicated over tensor parallelism (the hidden state it reads,
// GPT::final_hidden(), is identical on every rank, so every rank computes the
// same values and gradients).
// Initialisation: w = 0, b = 0 (what ParameterStore::allocate leaves), so the
// first values are 0 and the trunk gets no gradient from the head until w
// has moved; dw = dv^T hidden is nonzero from the first step.
#include <cstdint>
#include <string>

#include "runtime/parameter_store.h"

namespace pouch {

class ValueHead {
 public:
  // Declares `name`.weight [1, C] and `name`.bias [1] in `store` (the caller
  // allocates the store; a GPT's own store is allocated by its constructor,
  // so give the head a store of its own).
  ValueHead(ParameterStore& store, const std::string& name, std::int64_t d_model);

  // values [N] "=" hidden [N, C] w^T + b.
  void forward(Backend& be, const Tensor& hidden, const Tensor& values) const;
  // dw, db += for dL/dvalues = dvalues [N]; dhidden [N, C] += dvalues w
  // (optional: pass Tensor() to skip, e.g. for a detached trunk).
  void backward(Backend& be, const Tensor& dvalues, const Tensor& hidden, const Tensor& dhidden) const;

  Parameter* weight() const { return weight_; }
  Parameter* bias() const { return bias_; }

 private:
  std::int64_t d_model_;
  Parameter* weight_;
  Parameter* bias_;
};

}  // namespace pouch
