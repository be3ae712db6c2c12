#include "parallel/gradient_bucket_reducer.h"

#include <chrono>

namespace pouch {

GradientBucketReducer::GradientBucketReducer(ParameterStore& params, Communicator& dp, Options options)
    : params_(params), dp_(dp), options_(options) {
  POUCH_CHECK(params.allocated(), "the reducer needs allocated parameters");
  POUCH_CHECK(options.bucket_bytes > 0, "bucket size must be positive");
  const std::int64_t flat = params.grads().numel();
  const std::int64_t cap = std::max<std::int64_t>(1, options.bucket_bytes / static_cast<std::int64_t>(sizeof(float)));
  // Walk the parameters from the last; a bucket closes once it holds at least
  // `cap` elements. Its range runs to where the previous bucket began, so the
  // buckets tile the whole flat buffer (alignment padding included).
  Bucket current;
  current.end = flat;
  for (std::size_t i = params.size(); i-- > 0;) {
    const Parameter& p = params[i];
    bucket_of_[&p] = buckets_.size();
    ++current.params;
    current.begin = p.offset;
    if (current.end - current.begin >= cap || i == 0) {
      if (i == 0) current.begin = 0;
      buckets_.push_back(current);
      current = Bucket();
      current.end = p.offset;
    }
  }
}

void GradientBucketReducer::begin() {
  POUCH_CHECK(!active_, "begin() twice without finish()");
  for (auto& b : buckets_) {
    b.pending = b.params;
    b.work.reset();
  }
  next_to_issue_ = 0;
  active_ = true;
}

void GradientBucketReducer::mark_ready(const Parameter& p) {
  if (!active_) return;
  auto it = bucket_of_.find(&p);
  POUCH_CHECK(it != bucket_of_.end(), "parameter {} is not in this reducer's store", p.name);
  Bucket& b = buckets_[it->second];
  POUCH_CHECK(b.pending > 0, "parameter {} reported ready twice in one step", p.name);
  --b.pending;
  if (options_.overlap) issue_ready_buckets();
}

void GradientBucketReducer::issue_ready_buckets() {
  while (next_to_issue_ < buckets_.size() && buckets_[next_to_issue_].pending == 0) issue(buckets_[next_to_issue_++]);
}

void GradientBucketReducer::issue(Bucket& b) {
  b.work = dp_.all_reduce_async(params_.grads().view(b.begin, {b.end - b.begin}), ReduceOp::Sum);
}

void GradientBucketReducer::finish() {
  POUCH_CHECK(active_, "finish() without begin()");
  for (const auto& b : buckets_)
    POUCH_CHECK(b.pending == 0, "finish() with a bucket of {} parameters not ready", b.pending);
  while (next_to_issue_ < buckets_.size()) issue(buckets_[next_to_issue_++]);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& b : buckets_) b.work->wait();
  last_wait_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  active_ = false;
}

}  // namespace pouch
