#pragma once
// Elastic weight consolidation (Kirkpatrick et al. 2017, "Overcoming
// catastrophic forgetting in neural networks"): while training a new task,
// pull each weight towards its value after the old task in proportion to how
// much the old task's loss depends on it:
//
//   penalty   = (λ/2) · Σ_i F_i (θ_i − θ*_i)²
//   ∂penalty/∂θ_i = λ · F_i (θ_i − θ*_i)
//
// θ* = the weights at the start of the continual phase; F = a diagonal
// Fisher estimate on old data. Estimator (the "empirical Fisher" of
// mini-batches): with g_b the gradient of the MEAN token loss of old-data
// batch b (all-reduced over data-parallel ranks, so the global batch),
//
//   F = (1/K) Σ_{b=1..K} g_b²         (elementwise, K = ewc_batches)
//
// This is cheaper than per-sample squared gradients (one backward per batch,
// not per sample) and is the estimator of e.g. Avalanche's EWC "separate"
// mode; being squared batch means, it is smaller than the per-sample Fisher
// by roughly the batch size for the noise part of the gradient, which λ
// absorbs.
//
// F and θ* keep the ParameterStore's flat layout (one element per value,
// this rank's shards under tensor parallelism), so they checkpoint like the
// weights and the penalty gradient is one pass over the flat buffers. They
// live on the backend's device; every pass is a Backend op (Backend::ewc_*),
// and only penalty() reads a value back (one host sync).
#include <cstdint>

#include "runtime/backend.h"
#include "runtime/parameter_store.h"

namespace pouch {

class EwcPenalty {
 public:
  // Zero Fisher and anchor shaped like `params`' flat buffers.
  EwcPenalty(const ParameterStore& params, Backend& be);

  // θ* := values (flat, the store's layout).
  void set_anchor(const Tensor& values);
  // F += weight · grads² (flat). For K batches call with weight 1/K.
  void accumulate_fisher(const Tensor& grads, double weight);

  // grads += λ · F · (values − θ*).
  void add_gradient(const Tensor& values, const Tensor& grads, double lambda) const;
  // (λ/2) Σ F (values − θ*)² over this rank's elements (a logging value; under
  // tensor parallelism replicated tensors count on every rank). One host sync
  // on a device.
  double penalty(const Tensor& values, double lambda) const;

  const Tensor& fisher() const { return fisher_; }
  const Tensor& anchor() const { return anchor_; }
  // One parameter's slices ([p.shape]), views: a checkpoint writes and reads them.
  Tensor fisher_of(const Parameter& p) const { return fisher_.view(p.offset, p.shape); }
  Tensor anchor_of(const Parameter& p) const { return anchor_.view(p.offset, p.shape); }

 private:
  Backend& be_;
  Tensor fisher_, anchor_;  // (flat,) f32
  Tensor sum_;              // [1] F64: penalty()'s sum on the device
};

}  // namespace pouch
