#include "phases/schedule/run_state.h"

namespace pouch {

namespace {

// Checkpoint files are read into host memory: device targets get host
// stand-ins, copied to the device once the read is done. Host targets are
// read into directly (the CPU backend: no copy).
class HostStaging {
 public:
  explicit HostStaging(Backend& be) : be_(be) {}
  void stage(std::vector<ShardedTensor>& list) {
    for (ShardedTensor& t : list) {
      if (!t.local.defined() || t.local.on_host()) continue;
      Tensor host = Tensor::empty(t.local.shape(), t.local.dtype());
      pending_.emplace_back(t.local, host);
      t.local = host;
    }
  }
  void upload() {
    for (const auto& [device, host] : pending_) be_.copy(device, host);
    pending_.clear();
  }

 private:
  Backend& be_;
  std::vector<std::pair<Tensor, Tensor>> pending_;  // device target, host read buffer
};

}  // namespace

CheckpointState capture_run_state(const GPT& model, const AdamWOptimizer& optimizer, const RunPosition& position) {
  CheckpointState s;
  s.meta.step = position.step;
  s.meta.tokens_seen = position.tokens_seen;
  s.model_config = model.config();
  for (const auto& p : model.parameters()) {
    s.model.push_back({p.name, p.full_shape, p.shard, p.value});
    s.optim_m.push_back({p.name, p.full_shape, p.shard, optimizer.exp_avg_of(p)});
    s.optim_v.push_back({p.name, p.full_shape, p.shard, optimizer.exp_avg_sq_of(p)});
  }
  s.optim_step = optimizer.steps_taken();
  s.data_per_rank["position"] = {position.step, position.tokens_seen, position.next_sequence};
  return s;
}

RunPosition restore_run_state(const std::string& path, GPT& model, AdamWOptimizer& optimizer, int rank, bool verify) {
  // Read straight into the live buffers: the targets are views of them.
  CheckpointState s = capture_run_state(model, optimizer, {});
  s.data_per_rank.clear();
  HostStaging staging(model.backend());
  staging.stage(s.model);
  staging.stage(s.optim_m);
  staging.stage(s.optim_v);
  ReadOptions options;
  options.rank = rank;
  options.verify = verify;
  read_checkpoint_file(path, s, options);
  staging.upload();
  optimizer.set_steps_taken(s.optim_step);
  RunPosition pos;
  pos.step = s.meta.step;
  pos.tokens_seen = s.meta.tokens_seen;
  if (auto it = s.data_per_rank.find("position"); it != s.data_per_rank.end() && it->second.size() == 3) {
    pos.next_sequence = it->second[2];
  }
  return pos;
}

void read_checkpoint_staged(Backend& be, const std::string& path, CheckpointState& s, const ReadOptions& options) {
  HostStaging staging(be);
  staging.stage(s.model);
  staging.stage(s.optim_m);
  staging.stage(s.optim_v);
  staging.stage(s.phase);
  read_checkpoint_file(path, s, options);
  staging.upload();
}

CheckpointState read_checkpoint_rows(const std::string& path, int rank) {
  CheckpointState s;
  ReadOptions options;
  options.rank = rank;
  options.verify = false;
  options.optim = false;
  read_checkpoint_file(path, s, options);
  return s;
}

void restore_model_weights(const std::string& path, GPT& model, int rank, bool verify) {
  CheckpointState s;
  for (const auto& p : model.parameters()) s.model.push_back({p.name, p.full_shape, p.shard, p.value});
  HostStaging staging(model.backend());
  staging.stage(s.model);
  ReadOptions options;
  options.rank = rank;
  options.verify = verify;
  options.optim = false;
  read_checkpoint_file(path, s, options);
  staging.upload();
}

}  // namespace pouch
