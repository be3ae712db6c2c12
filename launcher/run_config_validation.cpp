#include "launcher/run_config_validation.h"

#include <variant>

#include "launcher/config_assign.h"
#include "launcher/run_config_keys.h"
#include "runtime/backend.h"
#include "runtime/device_setting.h"
#include "runtime/error.h"

namespace pouch {

void validate_run_config_keys(const RunConfig& c, const ConfigOrigins& origins) {
  auto where = [&](std::string_view key) { return origins.describe(key); };
  auto value = [&](std::string_view key) {
    const RunConfigKeySpec* spec = find_run_config_key(key);
    POUCH_CHECK(spec != nullptr, "validate: no key {}", key);
    return format_field(spec->field, c);
  };
  auto require = [&](bool ok, std::string_view key, std::string_view rule) {
    if (!ok) fail("{} = {} ({}): {}", key, value(key), where(key), rule);
  };

  require(c.model.layers > 0, "model.layers", "must be a positive integer");
  require(c.model.d_model > 0, "model.d_model", "must be a positive integer");
  require(c.model.heads > 0, "model.heads", "must be a positive integer");
  require(c.model.seq_len > 0, "model.seq_len", "must be a positive integer");
  require(c.model.vocab_size > 0, "model.vocab_size", "must be a positive integer");
  require(c.model.ln_eps > 0, "model.ln_eps", "must be positive");
  if (c.model.d_model % c.model.heads != 0)
    fail("model.d_model = {} ({}) is not divisible by model.heads = {} ({}): choose heads that divide d_model",
         c.model.d_model, where("model.d_model"), c.model.heads, where("model.heads"));

  require(!c.train.name.empty(), "train.name", "must not be empty (it names the run directory runs/<name>)");
  require(c.train.batch_size > 0, "train.batch_size", "must be a positive integer");
  require(c.train.grad_accum > 0, "train.grad_accum", "must be a positive integer");
  require(c.train.steps > 0, "train.steps", "must be a positive integer");
  require(c.train.eval_every >= 0, "train.eval_every", "must be 0 (off) or a positive number of steps");
  require(c.train.threads >= 0, "train.threads", "must be 0 (all cores) or a positive thread count");

  require(c.data.task_max_level > 0, "data.task_max_level", "must be a positive integer");
  require(c.data.task_train_samples > 0, "data.task_train_samples", "must be a positive integer");
  require(c.data.task_eval_per_level >= 0, "data.task_eval_per_level", "must be 0 or more");
  require(c.data.task_corrupt_fraction >= 0 && c.data.task_corrupt_fraction < 1, "data.task_corrupt_fraction",
          "must be in [0, 1)");

  require(c.optim.lr > 0, "optim.lr", "must be positive");
  require(c.optim.beta1 >= 0 && c.optim.beta1 < 1, "optim.beta1", "must be in [0, 1)");
  require(c.optim.beta2 >= 0 && c.optim.beta2 < 1, "optim.beta2", "must be in [0, 1)");
  require(c.optim.eps > 0, "optim.eps", "must be positive");
  require(c.optim.weight_decay >= 0, "optim.weight_decay", "must be 0 or more");
  require(c.optim.grad_clip >= 0, "optim.grad_clip", "must be 0 (off) or positive");
  require(c.optim.warmup_steps >= 0, "optim.warmup_steps", "must be 0 or more");
  require(c.optim.min_lr_ratio >= 0 && c.optim.min_lr_ratio <= 1, "optim.min_lr_ratio", "must be in [0, 1]");

  require(c.log.every > 0, "log.every", "must be a positive number of steps");
  require(c.log.peak_gflops >= 0, "log.peak_gflops", "must be 0 (measure) or positive");

  require(c.parallel.tp > 0, "parallel.tp", "must be a positive integer");
  require(c.parallel.dp >= 0, "parallel.dp", "must be 0 (derived from the number of ranks) or positive");
  require(c.parallel.timeout_s > 0, "parallel.timeout_s", "must be positive");
  require(c.parallel.bucket_mb > 0, "parallel.bucket_mb", "must be positive");
  require(c.checkpoint.every_steps >= 0, "checkpoint.every_steps", "must be 0 (end and signals only) or positive");
  require(c.checkpoint.keep_last >= 0, "checkpoint.keep_last", "must be 0 (keep all) or positive");
  require(c.checkpoint.keep_every >= 0, "checkpoint.keep_every", "must be 0 (no milestones) or positive");
  require(c.checkpoint.signal_timeout_s > 0, "checkpoint.signal_timeout_s", "must be positive");
  require(is_device_setting(c.runtime.device), "runtime.device", fmt::format("expected {}", kDeviceSettings));
  if (c.runtime.device == "cuda" && !cuda_availability().built)
    fail("runtime.device = cuda ({}): {}", where("runtime.device"), cuda_availability().reason);
  if (c.model.heads % c.parallel.tp != 0)
    fail(
        "model.heads = {} ({}) is not divisible by parallel.tp = {} ({}): each tensor-parallel rank holds whole "
        "heads; choose tp dividing heads",
        c.model.heads, where("model.heads"), c.parallel.tp, where("parallel.tp"));
  if ((4 * c.model.d_model) % c.parallel.tp != 0)
    fail(
        "4 * model.d_model = {} ({}) is not divisible by parallel.tp = {} ({}): the MLP's hidden width must split "
        "evenly",
        4 * c.model.d_model, where("model.d_model"), c.parallel.tp, where("parallel.tp"));

  // INI cannot hold these: '#' starts a comment and values are trimmed, so
  // the config written to the run directory would not read back the same.
  for (const auto& spec : run_config_key_specs()) {
    if (!std::holds_alternative<std::string& (*)(RunConfig&)>(spec.field)) continue;
    const std::string& s = std::get<std::string& (*)(RunConfig&)>(spec.field)(const_cast<RunConfig&>(c));
    if (s.find_first_of("#\n\r") != std::string::npos || (!s.empty() && (trim(s) != s)))
      fail("{} = '{}' ({}): a value must not contain '#' or a line break, or start or end with spaces", spec.name, s,
           where(spec.name));
  }
}

}  // namespace pouch
