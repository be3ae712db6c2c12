#pragma once
// The mixed precision of a phase that trains with next-token loss (its keys
// precision, loss_scale_init, loss_scale_window): the trained parameters'
// values become a 16-bit working copy of fp32 masters
// (runtime/mixed_precision_weights.h), block activations are stored in 16
// bits (GPT::set_activation_precision), and a loss scaler guards fp16
// gradients (runtime/loss_scaler.h; bf16 has fp32's exponent range and runs
// with a fixed scale of 1). With fp32 every call is a no-op.
//
// A step: forward with dloss · loss_scale(), backward, reduce, then
// apply_update(), which unscales, agrees with every rank on an overflow and
// either skips the update everywhere (the scale backs off) or runs it on the
// fp32 masters.
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "checkpoint/training_checkpoint.h"
#include "model/gpt.h"
#include "phases/schedule/phase_config.h"
#include "phases/schedule/train_ranks.h"
#include "runtime/loss_scaler.h"
#include "runtime/mixed_precision_weights.h"
#include "runtime/precision.h"

namespace pouch {

class PhasePrecision {
 public:
  explicit PhasePrecision(const PhaseConfig& phase);
  ~PhasePrecision();

  Precision precision() const { return precision_; }
  bool mixed() const { return precision_ != Precision::FP32; }
  double loss_scale() const { return scaler_.scale(); }

  // From here the values of `trained` are the working copy; `model` stores
  // 16-bit activations.
  void begin(GPT& model, ParameterStore& trained);
  // The fp32 masters back into the values, activations back to fp32: the
  // state the next phase, the boundary checkpoint and model.h5 should see.
  void finish();

  // See the header comment. `update` runs the optimizer; returns whether it ran.
  bool apply_update(const TrainRanks& ranks, Backend& be, std::int64_t global_step,
                    const std::function<void()>& update);

  // The fp32 value of a trained parameter (its master under bf16/fp16).
  Tensor master_of(const Parameter& p) const;
  // The fp32 values of the whole trained store.
  const Tensor& master_values(const ParameterStore& trained) const;

  // loss_scale and skipped_steps (fp16), and `skipped` when this step was.
  void add_metrics(nlohmann::json& line, bool applied) const;
  // The scaler's state as the /data_f64 row "loss_scaler", and back (rank 0's
  // row: every rank has the same scaler, and a checkpoint written by fewer
  // ranks has no row for the others).
  void capture(CheckpointState& state) const;
  void restore(const std::string& file);

 private:
  Precision precision_;
  LossScaler scaler_;
  GPT* model_ = nullptr;
  std::unique_ptr<MixedPrecisionWeights> weights_;
};

}  // namespace pouch
