#pragma once
// Data-parallel gradient reduction with buckets overlapped with backward
// (the scheme of PyTorch DDP, Li et al., VLDB 2020). Gradients live in one
// flat buffer (runtime/parameter_store.h) in parameter order; backward
// produces them in roughly the reverse order, so buckets are cut from the end
// of the buffer: bucket 0 holds the last parameters (lnf, the last block),
// the last bucket the first (wpe, wte). Each bucket is one contiguous view.
//
// Per optimizer step:
//   begin()          before the backward that should reduce (with gradient
//                    accumulation: the last micro-batch's only);
//   mark_ready(p)    from the model's grad-ready hook; when the last gradient
//                    of a bucket is ready the bucket's all-reduce (SUM) is
//                    issued on the data-parallel communicator, whose
//                    communication thread runs it while backward continues.
//                    Buckets are issued strictly in order, so every rank
//                    issues the same collectives in the same order;
//   finish()         issues what is left (everything, when overlap is off)
//                    and waits for all buckets; the optimizer runs after.
// The loss is already scaled by 1 / (global tokens), so SUM gives the
// gradient of the global mean loss.
//
// Devices: the same code orders device buckets by events. mark_ready runs
// when the bucket's last gradient kernel has been enqueued, so the
// all-reduce issued there (a device tensor: the staged or NCCL path) records
// its `ready` event right after that kernel in stream order; finish()'s
// wait on each bucket orders the compute stream, and so the optimizer,
// after its result (staged_communicator.h says where the host blocks).
// last_wait_seconds is then the host's exposed wait for the reductions.
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "parallel/communicator.h"
#include "runtime/parameter_store.h"

namespace pouch {

class GradientBucketReducer {
 public:
  struct Options {
    std::int64_t bucket_bytes = 50ll << 20;  // parallel.bucket_mb
    bool overlap = true;
  };

  GradientBucketReducer(ParameterStore& params, Communicator& dp, Options options);

  void begin();
  void mark_ready(const Parameter& p);
  void finish();

  std::size_t num_buckets() const { return buckets_.size(); }
  // Elements of the flat gradient buffer in bucket i: [begin, end).
  std::pair<std::int64_t, std::int64_t> bucket_range(std::size_t i) const {
    return {buckets_[i].begin, buckets_[i].end};
  }
  // Buckets issued so far in this step.
  std::size_t issued() const { return next_to_issue_; }
  // Seconds finish() spent waiting for reductions in the last step: the
  // communication backward did not hide.
  double last_wait_seconds() const { return last_wait_s_; }

 private:
  struct Bucket {
    std::int64_t begin = 0, end = 0;  // flat element range
    std::size_t params = 0;           // parameters in it
    std::size_t pending = 0;          // not yet ready this step
    WorkHandle work;
  };
  void issue_ready_buckets();
  void issue(Bucket& b);

  ParameterStore& params_;
  Communicator& dp_;
  Options options_;
  std::vector<Bucket> buckets_;
  std::unordered_map<const Parameter*, std::size_t> bucket_of_;
  std::size_t next_to_issue_ = 0;
  bool active_ = false;
  double last_wait_s_ = 0.0;
};

}  // namespace pouch
