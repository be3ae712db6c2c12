#pragma once
// The keys of a [phase.N] section (phases/schedule/phase_config.h): their fields,
// which phase kinds they belong to, and their help text.
#include <string>
#include <string_view>
#include <vector>

#include "phases/schedule/config_field.h"
#include "phases/schedule/phase_config.h"

namespace pouch {

inline constexpr std::string_view kPhaseSectionHelp =
    "phase sections are [phase.1], [phase.2], ... (consecutive, run in order)";

// Bit per PhaseKind.
enum PhaseKindMask : unsigned {
  kPretrainKeys = 1u << static_cast<unsigned>(PhaseKind::Pretrain),
  kPpoKeys = 1u << static_cast<unsigned>(PhaseKind::Ppo),
  kGrpoKeys = 1u << static_cast<unsigned>(PhaseKind::Grpo),
  kContinualKeys = 1u << static_cast<unsigned>(PhaseKind::Continual),
  kAlignKeys = kPpoKeys | kGrpoKeys,
  kAllPhaseKinds = kPretrainKeys | kAlignKeys | kContinualKeys,
};

struct PhaseKeySpec {
  std::string_view key;  // "curriculum" (the part after [phase.N])
  unsigned kinds;        // PhaseKindMask bits of the kinds that accept it
  ConfigField<PhaseConfig> field;
  std::string_view help;
};

// Every key but `kind`, which selects the rest and is handled by the parser.
const std::vector<PhaseKeySpec>& phase_key_specs();
const PhaseKeySpec* find_phase_key(std::string_view key);
bool phase_key_applies(const PhaseKeySpec& spec, PhaseKind kind);
// "pretrain", "ppo, grpo", "all kinds"
std::string phase_kinds_text(unsigned kinds);

}  // namespace pouch
