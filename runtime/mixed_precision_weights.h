#pragma once
// fp32 master weights behind 16-bit working weights (Micikevicius et al.
// 2018; what Megatron's Float16OptimizerWithFloat16Params and apex's O2 do).
//
// A bf16/fp16 weight cannot absorb an update smaller than half its ulp
// (bf16 has 8 bits of precision: w = 1 ignores any |dw| < 2^-8), so many
// small AdamW steps would be lost. The optimizer therefore updates fp32
// masters, and the model computes with a rounded working copy:
//
//   ParameterStore::values()  the fp32 masters; AdamWOptimizer updates them
//                             in place (it always steps the store's values)
//   working()                 a buffer of the backend's device in the same
//                             flat layout; every Parameter::value of the
//                             store points into it while this object lives
//
// The working copy is f32 holding only values the 16-bit format can hold
// (Backend::round_to_precision): the CPU and sim kernels compute in f32, and
// this is numerically what a GPU reading 16-bit weights sees. A device whose
// kernels read bf16 would keep it as BF16 and refresh it with Backend::cast;
// the refresh stays one op over the flat buffer.
//
// One training step:
//   forward/backward on the working copy  -> grads (scaled by the loss scale)
//   found = unscale_and_check(1/scale)      all-reduce `found` (OR) across ranks
//   if (scaler.update(found)) {             (runtime/loss_scaler.h)
//     optimizer.step(lr);                   AdamW updates the fp32 masters
//     refresh_working_copy();               working = round(masters): one op
//   }
// The AdamW moments stay fp32 in the values' flat layout, so the optimizer
// and its checkpoint code need no change. Checkpoints store the masters
// (master_of()); on resume load them into the store before building this.
//
// With Precision::FP32 there is no working copy: every call is a no-op and
// the parameters keep pointing at the store's values.
//
// Threads and streams: the training thread; every op is enqueued on the
// backend's compute stream. unscale_and_check() reads one flag back: one host
// sync per call (the "fp16 overflow flag" of the sync budget).
#include <cstdint>

#include "runtime/backend.h"
#include "runtime/parameter_store.h"
#include "runtime/precision.h"
#include "runtime/tensor.h"

namespace pouch {

class MixedPrecisionWeights {
 public:
  // Takes the store's current values (e.g. the initialisation or a resumed
  // checkpoint) as the masters, makes the working copy and points every
  // Parameter::value at it. The store must be allocated on `backend`; both
  // must outlive this object.
  MixedPrecisionWeights(Backend& backend, ParameterStore& params, Precision precision);
  // Points every Parameter::value back at the masters.
  ~MixedPrecisionWeights();
  MixedPrecisionWeights(const MixedPrecisionWeights&) = delete;
  MixedPrecisionWeights& operator=(const MixedPrecisionWeights&) = delete;

  Precision precision() const { return precision_; }

  // working = round(masters), on the compute stream. After each optimizer
  // step and after loading masters.
  void refresh_working_copy();

  // grads *= inv_scale over the whole gradient buffer, in the same pass
  // looking for inf/NaN (Backend::unscale_and_check). Returns true when this
  // rank found a non-finite gradient (the step must be skipped once the flag
  // is OR-reduced across ranks). With inv_scale == 1 only the check runs.
  // FP32: returns false, touches nothing, no sync.
  bool unscale_and_check(float inv_scale);

  // Masters, flat in the store's layout ([store.values().numel()], f32), and
  // one parameter's master ([p.shape]).
  const Tensor& master() const { return params_.values(); }
  Tensor master_of(const Parameter& p) const { return params_.values().view(p.offset, p.shape); }
  // The working copy, flat like the masters; undefined for FP32.
  const Tensor& working() const { return working_; }

 private:
  void bind_values(const Tensor& flat);

  Backend& be_;
  ParameterStore& params_;
  Precision precision_;
  Tensor working_;  // (total,) f32 on the backend's device; undefined for FP32
  Tensor found_;    // (1,) i32 on the device: unscale_and_check's flag
  Tensor found_host_;
};

}  // namespace pouch
