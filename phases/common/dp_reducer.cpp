#include "phases/common/dp_reducer.h"

#include "runtime/log.h"

namespace pouch {

DpReducer::DpReducer(ParameterStore& store, Communicator& dp, GPT* announcing, const ParallelConfig& cfg)
    : store_(store), dp_(dp), announcing_(announcing) {
  if (announcing_ == nullptr) return;
  buckets_ = std::make_unique<GradientBucketReducer>(
      store, dp, GradientBucketReducer::Options{static_cast<std::int64_t>(cfg.bucket_mb * (1 << 20)), cfg.overlap});
  announcing_->set_grad_ready_hook([r = buckets_.get()](const Parameter& p) { r->mark_ready(p); });
}

DpReducer::~DpReducer() {
  if (announcing_) announcing_->set_grad_ready_hook({});
}

void DpReducer::begin() {
  if (buckets_) buckets_->begin();
}

void DpReducer::finish() {
  if (buckets_)
    buckets_->finish();
  else
    dp_.all_reduce(store_.grads(), ReduceOp::Sum);
}

void DpReducer::add_metrics(nlohmann::json& line) const {
  if (buckets_) line["comm_wait_s"] = buckets_->last_wait_seconds();
}

std::unique_ptr<DpReducer> make_dp_reducer(const PhaseContext& ctx, ParameterStore& store, GPT* announcing) {
  if (ctx.ranks.dp_size() <= 1) return nullptr;
  const ParallelConfig& p = ctx.cfg.parallel;
  auto reducer = std::make_unique<DpReducer>(store, *ctx.ranks.dp, announcing, p);
  if (reducer->bucketed())
    log_info("data-parallel gradient all-reduce: {} buckets of up to {} MiB, overlap {}", reducer->num_buckets(),
             p.bucket_mb, p.overlap ? "on" : "off");
  return reducer;
}

}  // namespace pouch
