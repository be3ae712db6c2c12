#pragma once
// The data-parallel sum of a trained store's gradients, built the one way
// every phase builds it (make_dp_reducer). Losses are scaled by 1 / (global
// count), so the sum is the gradient of the global batch's loss. Two kinds:
//   bucketed  the model's own parameters, whose gradients its backward
//             announces one by one (GPT's grad-ready hook): buckets of
//             parallel.bucket_mb are all-reduced while backward still runs
//             (parallel.overlap; parallel/gradient_bucket_reducer.h);
//   flat      a store that backward does not announce (LoRA adapters, the
//             value head) or a phase that reduces after backward: one
//             all-reduce of the store's flat gradient buffer in finish().
// Per optimizer step: begin() before the backward that should reduce (with
// gradient accumulation, the last micro-batch's), finish() after it; the
// optimizer runs after finish(). Both are collectives on the data-parallel
// communicator: every rank of a dp group calls them in the same order, and
// finish() returns when the sums are in the store (it waits for every
// bucket).
#include <memory>
#include <nlohmann/json.hpp>

#include "model/gpt.h"
#include "parallel/gradient_bucket_reducer.h"
#include "phases/schedule/phase.h"

namespace pouch {

class DpReducer {
 public:
  DpReducer(ParameterStore& store, Communicator& dp, GPT* announcing, const ParallelConfig& cfg);
  ~DpReducer();
  DpReducer(const DpReducer&) = delete;
  DpReducer& operator=(const DpReducer&) = delete;

  void begin();
  void finish();
  bool bucketed() const { return buckets_ != nullptr; }
  std::size_t num_buckets() const { return buckets_ ? buckets_->num_buckets() : 1; }
  // Bucketed: comm_wait_s, what the last finish() waited for (the
  // communication backward did not hide).
  void add_metrics(nlohmann::json& line) const;

 private:
  ParameterStore& store_;
  Communicator& dp_;
  GPT* announcing_;
  std::unique_ptr<GradientBucketReducer> buckets_;
};

// Null without data parallelism (dp = 1). `announcing`: the model whose
// backward announces `store`'s gradients (bucketed); null: flat.
std::unique_ptr<DpReducer> make_dp_reducer(const PhaseContext& ctx, ParameterStore& store, GPT* announcing);

}  // namespace pouch
