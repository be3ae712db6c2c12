#pragma once
// fp32 master weights behind 16-bit working weights (Micikevicius et al.
// 2018; what Megatron's Float16OptimizerWithFloat16Params and apex's O2 do).
//
// A bf16/fp16 weight cannot absorb an update smaller than half its ulp
// (bf16 has 8 bits of precision: w = 1 ignores any |dw| < 2^-8), so many
// small AdamW steps would be lost. The optimizer therefore updates an fp32
// master copy, and the model computes with a rounded working copy:
//
//   master (fp32)  --narrow-->  storage (u16, what a GPU would keep)
//                  --widen-->   ParameterStore::values() (fp32, every value
//                               exactly representable in 16 bits)
//
// One training step:
//   forward/backward on the working copy  -> grads (scaled by the loss scale)
//   found = unscale_and_check(1/scale)      all-reduce `found` (OR) across ranks
//   if (scaler.update(found)) {             (runtime/loss_scaler.h)
//     begin_master_update();                values := master
//     optimizer.step(lr);                   AdamW updates fp32 masters in place
//     end_master_update();                  master := values; refresh_working_copy()
//   }
// The AdamW moments stay fp32 and keep the values' flat layout, so the
// optimizer and its checkpoint code need no change.
//
// Checkpoints store the masters (master_of()); on resume load them into the
// masters and call refresh_working_copy().
//
// With Precision::FP32 there is no separate copy: master() aliases the
// store's values, and every call below is a no-op.
#include <cstdint>

#include "runtime/parameter_store.h"
#include "runtime/precision.h"
#include "runtime/tensor.h"

namespace pouch {

class MixedPrecisionWeights {
 public:
  // Takes the store's current values (e.g. the initialisation) as the
  // masters and rounds the values to the working copy. The store must be
  // allocated (on the CPU) and outlive this object.
  MixedPrecisionWeights(ParameterStore& params, Precision precision);

  Precision precision() const { return precision_; }

  // master -> 16-bit storage -> store values. After loading masters.
  void refresh_working_copy();

  // grads *= inv_scale over the whole gradient buffer, in the same pass
  // looking for inf/NaN. Returns true when this rank found a non-finite
  // gradient (the step must be skipped once the flag is OR-reduced across
  // ranks). With inv_scale == 1 only the check runs. FP32: returns false,
  // touches nothing.
  bool unscale_and_check(float inv_scale);

  // Bracket the optimizer step: begin puts the fp32 masters into the store's
  // values so that AdamWOptimizer::step updates them in place; end copies
  // them back to the masters and refreshes the working copy.
  void begin_master_update();
  void end_master_update();

  // Masters, flat in the store's layout ([store.values().numel()], f32), and
  // one parameter's master ([p.shape]).
  const Tensor& master() const { return master_; }
  Tensor master_of(const Parameter& p) const { return master_.view(p.offset, p.shape); }
  // The 16-bit working copy as raw bf16/fp16 bits ([numel], u16); undefined
  // for FP32.
  const Tensor& storage() const { return storage_; }

 private:
  ParameterStore& params_;
  Precision precision_;
  Tensor master_;   // (total,) f32; aliases params_.values() for FP32
  Tensor storage_;  // (total,) u16
  bool in_update_ = false;
};

}  // namespace pouch
