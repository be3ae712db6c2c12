#include "runtime/mixed_precision_weights.h"

#include <bit>

#include "runtime/cpu/simd.h"

namespace pouch {

MixedPrecisionWeights::MixedPrecisionWeights(ParameterStore& params, Precision precision)
    : params_(params), precision_(precision) {
  POUCH_CHECK(params.allocated(), "mixed-precision weights built before the parameters were allocated");
  POUCH_CHECK(params.values().device() == Device::CPU, "mixed-precision weights are CPU-only");
  if (precision_ == Precision::FP32) {
    master_ = params.values();
    return;
  }
  master_ = params.values().clone();
  storage_ = Tensor::empty(params.values().shape(), DType::U16);
  refresh_working_copy();
}

void MixedPrecisionWeights::refresh_working_copy() {
  if (precision_ == Precision::FP32) return;
  POUCH_CHECK(!in_update_, "refresh_working_copy() between begin_master_update() and end_master_update()");
  const std::int64_t n = master_.numel();
  auto* bits = storage_.data<std::uint16_t>();
  narrow(precision_, master_.f32(), bits, n);
  widen(precision_, bits, params_.values().f32(), n);
}

bool MixedPrecisionWeights::unscale_and_check(float inv_scale) {
  if (precision_ == Precision::FP32) return false;
  float* g = params_.grads().f32();
  const std::int64_t n = params_.grads().numel();
  if (inv_scale == 1.0f) return !all_finite(g, n);
  // One pass: scale, then test the exponent bits of the result (inf/NaN in,
  // inf/NaN out; what the optimizer would read is what is tested).
  std::uint32_t bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (n >= cpu::kParallelMinWork)
  for (std::int64_t i = 0; i < n; ++i) {
    g[i] *= inv_scale;
    bad |= static_cast<std::uint32_t>((std::bit_cast<std::uint32_t>(g[i]) & 0x7F800000u) == 0x7F800000u);
  }
  return bad != 0;
}

void MixedPrecisionWeights::begin_master_update() {
  if (precision_ == Precision::FP32) return;
  POUCH_CHECK(!in_update_, "begin_master_update() twice");
  params_.values().copy_from(master_);
  in_update_ = true;
}

void MixedPrecisionWeights::end_master_update() {
  if (precision_ == Precision::FP32) return;
  POUCH_CHECK(in_update_, "end_master_update() without begin_master_update()");
  master_.copy_from(params_.values());
  in_update_ = false;
  refresh_working_copy();
}

}  // namespace pouch
