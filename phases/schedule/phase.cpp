#include "phases/schedule/phase.h"

#include <fmt/format.h>

#include <charconv>

#include "parallel/uniform_error.h"
#include "phases/alignment/alignment_phase.h"
#include "phases/continual/continual_phase.h"
#include "phases/pretrain/pretrain_phase.h"
#include "runtime/error.h"

namespace pouch {

OptimConfig PhaseContext::optim() const {
  OptimConfig o = cfg.optim;
  if (phase.lr > 0) o.lr = static_cast<float>(phase.lr);
  if (phase.warmup_steps >= 0) o.warmup_steps = phase.warmup_steps;
  return o;
}

std::int64_t PhaseContext::eval_every() const {
  return phase.eval_every >= 0 ? phase.eval_every : cfg.train.eval_every;
}

void PhaseContext::stamp(CheckpointState& s, std::int64_t global_step, std::int64_t tokens_seen) const {
  s.meta.step = global_step;
  s.meta.tokens_seen = tokens_seen;
  s.meta.phase = std::string(phase_kind_name(phase.kind));
  s.meta.tp = ranks.tp_size();
  s.meta.dp = ranks.dp_size();
  s.meta.config_ini = config_ini;
  s.model_config = model.config();
  s.extra_attrs["phase_index"] = std::to_string(phase.index);
  if (!tokenizer_json.empty()) s.extra_attrs["tokenizer"] = tokenizer_json;
}

const EvalResult& PhaseContext::record_eval(std::int64_t global_step, const Tensor& x, const Tensor& y,
                                            const std::vector<int>& levels) const {
  evals->push_back(evaluate(model, data, cfg, ranks, global_step, x, y, levels));
  return evals->back();
}

std::unique_ptr<Phase> make_phase(const PhaseContext& ctx) {
  switch (ctx.phase.kind) {
    case PhaseKind::Pretrain:
      return make_pretrain_phase(ctx);
    case PhaseKind::Ppo:
    case PhaseKind::Grpo:
      return make_alignment_phase(ctx);
    case PhaseKind::Continual:
      return make_continual_phase(ctx);
  }
  POUCH_CHECK(false, "phase kind {} has no implementation", static_cast<int>(ctx.phase.kind));
  return nullptr;
}

std::int64_t checkpoint_phase_index(const CheckpointState& state) {
  const auto it = state.extra_attrs.find("phase_index");
  if (it == state.extra_attrs.end()) return 1;
  std::int64_t index = 0;
  const auto& text = it->second;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), index);
  if (ec != std::errc() || end != text.data() + text.size() || index < 1)
    fail("checkpoint: /meta phase_index = '{}' is not a phase number; the file is damaged", text);
  return index;
}

}  // namespace pouch
