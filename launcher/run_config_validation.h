#pragma once
// The value checks of the keys of [model] [train] [data] [optim] [log]
// [parallel] [checkpoint] (the [phase.N] keys and the rules that join them to
// these are phases/schedule/phase_validation.h's). Messages name the key,
// where it was set and the fix.
#include "phases/schedule/config_origins.h"
#include "phases/schedule/run_config.h"

namespace pouch {

void validate_run_config_keys(const RunConfig& config, const ConfigOrigins& origins);

}  // namespace pouch
