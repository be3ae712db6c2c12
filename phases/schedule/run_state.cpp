#include "phases/schedule/run_state.h"

namespace pouch {

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
  ReadOptions options;
  options.rank = rank;
  options.verify = verify;
  read_checkpoint_file(path, s, options);
  optimizer.set_steps_taken(s.optim_step);
  RunPosition pos;
  pos.step = s.meta.step;
  pos.tokens_seen = s.meta.tokens_seen;
  if (auto it = s.data_per_rank.find("position"); it != s.data_per_rank.end() && it->second.size() == 3) {
    pos.next_sequence = it->second[2];
  }
  return pos;
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
  ReadOptions options;
  options.rank = rank;
  options.verify = verify;
  options.optim = false;
  read_checkpoint_file(path, s, options);
}

}  // namespace pouch
