#include "launcher/run_config_keys.h"

#include <string>

namespace pouch {

namespace po = boost::program_options;

// A capture-less lambda, so it converts to the field alternative of its type.
#define POUCH_FIELD(member) POUCH_FIELD_OF(RunConfig, member)

const std::vector<RunConfigKeySpec>& run_config_key_specs() {
  static const std::vector<RunConfigKeySpec> specs = {
      {"model.layers", POUCH_FIELD(model.layers), "transformer blocks"},
      {"model.d_model", POUCH_FIELD(model.d_model), "embedding width C; must be divisible by model.heads"},
      {"model.heads", POUCH_FIELD(model.heads), "attention heads (head size = d_model / heads)"},
      {"model.seq_len", POUCH_FIELD(model.seq_len), "context length T (rows of the position embedding)"},
      {"model.vocab_size", POUCH_FIELD(model.vocab_size), "vocabulary size V"},
      {"model.ln_eps", POUCH_FIELD(model.ln_eps), "LayerNorm epsilon"},

      {"train.name", POUCH_FIELD(train.name), "run name; the run directory defaults to runs/<name>"},
      {"train.run_dir", POUCH_FIELD(train.run_dir),
       "run directory (config used, metrics, final model.h5); empty = runs/<name>"},
      {"train.batch_size", POUCH_FIELD(train.batch_size), "sequences per micro-batch"},
      {"train.grad_accum", POUCH_FIELD(train.grad_accum), "micro-batches per optimizer step"},
      {"train.steps", POUCH_FIELD(train.steps), "optimizer steps"},
      {"train.seed", POUCH_FIELD(train.seed), "seed of every random stream (init, data order, sampling)"},
      {"train.init_from", POUCH_FIELD(train.init_from),
       "weights to start from: a pouch weights file (HDF5) or an llm.c model file (.bin, told apart by content); empty "
       "= random init"},
      {"train.recompute", POUCH_FIELD(train.recompute),
       "activation checkpointing: re-run each block's forward in backward (same results, less memory)"},
      {"train.eval_every", POUCH_FIELD(train.eval_every),
       "optimizer steps between evaluations (also at step 0 and the last step); 0 = no evaluation"},
      {"train.threads", POUCH_FIELD(train.threads),
       "OpenMP/BLAS threads; 0 = the cores of this rank's affinity mask, divided among the ranks of the node sharing "
       "it"},

      {"data.path", POUCH_FIELD(data.path), "token shard or glob of shards; empty = the built-in reasoning task"},
      {"data.val_path", POUCH_FIELD(data.val_path),
       "held-out shard(s) for validation loss; empty = none (or the built-in task's held-out split)"},
      {"data.shuffle", POUCH_FIELD(data.shuffle),
       "seeded shuffle of training sequences; false = the file's order (llm.c's loader order)"},
      {"data.task_max_level", POUCH_FIELD(data.task_max_level), "built-in task: difficulty levels 1..N"},
      {"data.task_train_samples", POUCH_FIELD(data.task_train_samples), "built-in task: generated training samples"},
      {"data.task_eval_per_level", POUCH_FIELD(data.task_eval_per_level),
       "built-in task: held-out problems per level for exact-answer accuracy"},
      {"data.task_corrupt_fraction", POUCH_FIELD(data.task_corrupt_fraction),
       "built-in task: fraction of deliberately wrong, low-quality samples, in [0, 1)"},

      {"optim.lr", POUCH_FIELD(optim.lr), "peak learning rate (AdamW)"},
      {"optim.beta1", POUCH_FIELD(optim.beta1), "AdamW beta1, in [0, 1)"},
      {"optim.beta2", POUCH_FIELD(optim.beta2), "AdamW beta2, in [0, 1)"},
      {"optim.eps", POUCH_FIELD(optim.eps), "AdamW epsilon"},
      {"optim.weight_decay", POUCH_FIELD(optim.weight_decay),
       "decoupled weight decay, applied to parameters with >= 2 dimensions only"},
      {"optim.grad_clip", POUCH_FIELD(optim.grad_clip), "clip the global gradient norm to this; 0 = off"},
      {"optim.warmup_steps", POUCH_FIELD(optim.warmup_steps), "linear learning-rate warmup steps"},
      {"optim.schedule", POUCH_FIELD(optim.schedule), "learning rate after warmup: constant or cosine decay"},
      {"optim.min_lr_ratio", POUCH_FIELD(optim.min_lr_ratio),
       "cosine decays to lr * min_lr_ratio at the last step, in [0, 1]"},

      {"log.metrics", POUCH_FIELD(log.metrics), "JSON-lines metrics file; empty = <run_dir>/metrics.jsonl"},
      {"log.every", POUCH_FIELD(log.every), "progress line every N optimizer steps"},
      {"log.peak_gflops", POUCH_FIELD(log.peak_gflops), "machine peak GFLOP/s for MFU; 0 = measure sgemm at start-up"},

      {"parallel.tp", POUCH_FIELD(parallel.tp),
       "tensor-parallel degree: consecutive ranks split heads, MLP width and vocabulary; must divide heads"},
      {"parallel.dp", POUCH_FIELD(parallel.dp),
       "data-parallel degree; 0 = world size / tp; tp * dp must equal the number of ranks"},
      {"parallel.timeout_s", POUCH_FIELD(parallel.timeout_s),
       "deadline of every collective in seconds; past it the job prints its flight record and aborts"},
      {"parallel.bucket_mb", POUCH_FIELD(parallel.bucket_mb),
       "gradient bucket size (MiB) of the data-parallel all-reduce"},
      {"parallel.overlap", POUCH_FIELD(parallel.overlap),
       "all-reduce each gradient bucket during backward as soon as it is complete (false: after backward)"},

      {"checkpoint.dir", POUCH_FIELD(checkpoint.dir), "checkpoint directory; empty = <run_dir>/checkpoints"},
      {"checkpoint.every_steps", POUCH_FIELD(checkpoint.every_steps),
       "steps between checkpoints; 0 = only at the end of the run and on SIGUSR1/SIGTERM"},
      {"checkpoint.keep_last", POUCH_FIELD(checkpoint.keep_last),
       "newest checkpoints to keep (milestones aside); 0 = keep all"},
      {"checkpoint.keep_every", POUCH_FIELD(checkpoint.keep_every),
       "milestones: checkpoints at multiples of this step are never deleted; 0 = none"},
      {"checkpoint.signal_timeout_s", POUCH_FIELD(checkpoint.signal_timeout_s),
       "deadline (s) of the checkpoint SIGUSR1/SIGTERM asks for; past it the job exits with the previous one intact"},

      {"runtime.device", POUCH_FIELD(runtime.device),
       "where the model runs: auto (cuda when built and a GPU is visible, else cpu), cpu, sim (the simulated device "
       "that checks device semantics on the CPU) or cuda"},
  };
  return specs;
}

#undef POUCH_FIELD

const RunConfigKeySpec* find_run_config_key(std::string_view name) {
  for (const auto& spec : run_config_key_specs())
    if (spec.name == name) return &spec;
  return nullptr;
}

po::options_description run_config_options() {
  po::options_description desc("config keys");
  for (const auto& spec : run_config_key_specs()) {
    std::string name(spec.name);
    auto* semantic = po::value<std::string>();
    if (field_is_bool(spec.field)) semantic->implicit_value("true");
    desc.add_options()(name.c_str(), semantic, std::string(spec.help).c_str());
  }
  return desc;
}

}  // namespace pouch
