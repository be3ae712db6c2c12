#include "phases/continual/ewc_penalty.h"

#include "runtime/error.h"

namespace pouch {

EwcPenalty::EwcPenalty(const ParameterStore& params, Backend& be) : be_(be) {
  POUCH_CHECK(params.allocated(), "EWC needs an allocated parameter store");
  fisher_ = be.zeros(params.values().shape());
  anchor_ = be.zeros(params.values().shape());
  sum_ = be.zeros({1}, DType::F64);
}

void EwcPenalty::set_anchor(const Tensor& values) {
  POUCH_CHECK(values.numel() == anchor_.numel(), "EWC anchor: {} values for {}", values.numel(), anchor_.numel());
  be_.copy(anchor_, values.reshape(anchor_.shape()));
}

void EwcPenalty::accumulate_fisher(const Tensor& grads, double weight) {
  POUCH_CHECK(grads.numel() == fisher_.numel(), "EWC Fisher: {} gradients for {}", grads.numel(), fisher_.numel());
  be_.ewc_fisher_accumulate(fisher_, grads, weight);
}

void EwcPenalty::add_gradient(const Tensor& values, const Tensor& grads, double lambda) const {
  POUCH_CHECK(values.numel() == fisher_.numel() && grads.numel() == fisher_.numel(), "EWC: shape mismatch");
  be_.ewc_penalty_gradient(grads, values, anchor_, fisher_, static_cast<float>(lambda));
}

double EwcPenalty::penalty(const Tensor& values, double lambda) const {
  POUCH_CHECK(values.numel() == fisher_.numel(), "EWC: shape mismatch");
  be_.ewc_penalty_sum(sum_, values, anchor_, fisher_);
  Tensor host = sum_;
  if (!sum_.on_host()) {
    host = Tensor::empty({1}, DType::F64);
    be_.copy(host, sum_);
  }
  return 0.5 * lambda * host.data<double>()[0];
}

}  // namespace pouch
