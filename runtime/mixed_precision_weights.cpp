#include "runtime/mixed_precision_weights.h"

#include "runtime/error.h"

namespace pouch {

MixedPrecisionWeights::MixedPrecisionWeights(Backend& backend, ParameterStore& params, Precision precision)
    : be_(backend), params_(params), precision_(precision) {
  POUCH_CHECK(params.allocated(), "mixed-precision weights built before the parameters were allocated");
  POUCH_CHECK(params.values().device() == backend.device(),
              "mixed-precision weights: the store is on {}, the backend {}", device_name(params.values().device()),
              backend.name());
  if (precision_ == Precision::FP32) return;
  working_ = be_.empty(params.values().shape());
  found_ = be_.empty({1}, DType::I32);
  found_host_ = Tensor::empty({1}, DType::I32);
  refresh_working_copy();
  bind_values(working_);
}

MixedPrecisionWeights::~MixedPrecisionWeights() {
  if (working_.defined()) bind_values(params_.values());
}

void MixedPrecisionWeights::bind_values(const Tensor& flat) {
  for (Parameter& p : params_) p.value = flat.view(p.offset, p.shape);
}

void MixedPrecisionWeights::refresh_working_copy() {
  if (precision_ == Precision::FP32) return;
  be_.round_to_precision(working_, params_.values(), precision_);
}

bool MixedPrecisionWeights::unscale_and_check(float inv_scale) {
  if (precision_ == Precision::FP32) return false;
  be_.unscale_and_check(params_.grads(), inv_scale, found_);
  be_.copy(found_host_, found_);  // the flag decides on the host whether to step: one sync
  return found_host_.i32()[0] != 0;
}

}  // namespace pouch
