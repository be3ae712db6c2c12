#include "phases/continual/ewc_penalty.h"

#include "runtime/error.h"

namespace pouch {

EwcPenalty::EwcPenalty(const ParameterStore& params, Backend& be) {
  POUCH_CHECK(params.allocated(), "EWC needs an allocated parameter store");
  fisher_ = be.zeros(params.values().shape());
  anchor_ = be.zeros(params.values().shape());
}

void EwcPenalty::set_anchor(const Tensor& values) {
  POUCH_CHECK(values.numel() == anchor_.numel(), "EWC anchor: {} values for {}", values.numel(), anchor_.numel());
  const float* v = values.f32();
  float* a = anchor_.f32();
  for (std::int64_t i = 0; i < anchor_.numel(); ++i) a[i] = v[i];
}

void EwcPenalty::accumulate_fisher(const Tensor& grads, double weight) {
  POUCH_CHECK(grads.numel() == fisher_.numel(), "EWC Fisher: {} gradients for {}", grads.numel(), fisher_.numel());
  const float* g = grads.f32();
  float* f = fisher_.f32();
  for (std::int64_t i = 0; i < fisher_.numel(); ++i) {
    const double gi = g[i];
    f[i] = static_cast<float>(f[i] + weight * gi * gi);
  }
}

void EwcPenalty::add_gradient(const Tensor& values, const Tensor& grads, double lambda) const {
  POUCH_CHECK(values.numel() == fisher_.numel() && grads.numel() == fisher_.numel(), "EWC: shape mismatch");
  const float* v = values.f32();
  const float* f = fisher_.f32();
  const float* a = anchor_.f32();
  float* g = grads.f32();
  const float l = static_cast<float>(lambda);
  for (std::int64_t i = 0; i < fisher_.numel(); ++i) g[i] += l * f[i] * (v[i] - a[i]);
}

double EwcPenalty::penalty(const Tensor& values, double lambda) const {
  POUCH_CHECK(values.numel() == fisher_.numel(), "EWC: shape mismatch");
  const float* v = values.f32();
  const float* f = fisher_.f32();
  const float* a = anchor_.f32();
  double sum = 0.0;
  for (std::int64_t i = 0; i < fisher_.numel(); ++i) {
    const double d = static_cast<double>(v[i]) - a[i];
    sum += f[i] * d * d;
  }
  return 0.5 * lambda * sum;
}

}  // namespace pouch
