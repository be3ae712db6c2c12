#include "phases/common/phase_precision.h"

#include <fmt/format.h>

#include "phases/schedule/run_state.h"
#include "phases/schedule/world_agreement.h"
#include "runtime/log.h"

namespace pouch {

namespace {

LossScalerConfig scaler_config(const PhaseConfig& phase, Precision precision) {
  LossScalerConfig c;
  if (precision != Precision::FP16) {
    c.init_scale = 1.0;
    c.dynamic = false;
  } else {
    c.init_scale = phase.loss_scale_init;
    c.growth_interval = phase.loss_scale_window;
  }
  return c;
}

}  // namespace

PhasePrecision::PhasePrecision(const PhaseConfig& phase)
    : precision_(parse_precision(phase.precision, fmt::format("phase.{}.precision", phase.index))),
      scaler_(scaler_config(phase, precision_)) {}

PhasePrecision::~PhasePrecision() {
  if (model_) model_->set_activation_precision(Precision::FP32);
}

void PhasePrecision::begin(GPT& model, ParameterStore& trained) {
  if (!mixed()) return;
  model_ = &model;
  weights_ = std::make_unique<MixedPrecisionWeights>(model.backend(), trained, precision_);
  model.set_activation_precision(precision_);
}

void PhasePrecision::finish() {
  weights_.reset();  // the parameters point at the masters again
  if (model_) model_->set_activation_precision(Precision::FP32);
  model_ = nullptr;
}

bool PhasePrecision::apply_update(const TrainRanks& ranks, Backend& be, std::int64_t global_step,
                                  const std::function<void()>& update) {
  if (!weights_) {
    update();
    return true;
  }
  const bool overflow = any_rank(ranks, be, weights_->unscale_and_check(scaler_.inv_scale()));
  const double scale = scaler_.scale();
  if (!scaler_.update(overflow)) {
    log_warn("step {}: gradient overflow at loss scale {}; step skipped, scale now {}", global_step, scale,
             scaler_.scale());
    return false;
  }
  update();  // AdamW steps the store's values: the masters
  weights_->refresh_working_copy();
  return true;
}

Tensor PhasePrecision::master_of(const Parameter& p) const { return weights_ ? weights_->master_of(p) : p.value; }

const Tensor& PhasePrecision::master_values(const ParameterStore& trained) const {
  return weights_ ? weights_->master() : trained.values();
}

void PhasePrecision::add_metrics(nlohmann::json& line, bool applied) const {
  if (precision_ != Precision::FP16) return;
  line["loss_scale"] = scaler_.scale();
  line["skipped_steps"] = scaler_.state().skipped_steps;
  if (!applied) line["skipped"] = true;
}

void PhasePrecision::capture(CheckpointState& state) const {
  const LossScalerState& ls = scaler_.state();
  state.f64_per_rank["loss_scaler"] = {ls.scale, static_cast<double>(ls.good_steps),
                                       static_cast<double>(ls.skipped_steps)};
}

void PhasePrecision::restore(const std::string& file) {
  const CheckpointState rows = read_checkpoint_rows(file, 0);
  if (auto it = rows.f64_per_rank.find("loss_scaler"); it != rows.f64_per_rank.end() && it->second.size() == 3)
    scaler_.set_state(
        {it->second[0], static_cast<std::int64_t>(it->second[1]), static_cast<std::int64_t>(it->second[2])});
}

}  // namespace pouch
