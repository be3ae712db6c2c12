#include "phases/schedule/phase_config.h"

#include <fmt/format.h>

#include "runtime/error.h"

namespace pouch {

std::string_view phase_kind_name(PhaseKind kind) {
  switch (kind) {
    case PhaseKind::Pretrain:
      return "pretrain";
    case PhaseKind::Ppo:
      return "ppo";
    case PhaseKind::Grpo:
      return "grpo";
    case PhaseKind::Continual:
      return "continual";
  }
  return "?";
}

PhaseKind parse_phase_kind(std::string_view text, std::string_view key) {
  for (PhaseKind k : {PhaseKind::Pretrain, PhaseKind::Ppo, PhaseKind::Grpo, PhaseKind::Continual})
    if (text == phase_kind_name(k)) return k;
  fail("{} = '{}': unknown phase kind; the kinds are pretrain, ppo, grpo and continual", key, text);
}

std::string PhaseConfig::name() const { return fmt::format("phase {} ({})", index, phase_kind_name(kind)); }

}  // namespace pouch
