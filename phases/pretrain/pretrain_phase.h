#pragma once
// kind = pretrain: next-token training on the run's data. For optimizer step
// s (in-phase) and micro-batch m, data-parallel rank d reads global
// sequences (s·A + m)·B + d·B/dp ... + B/dp − 1 (A = grad_accum, B =
// batch_size), so the global batch and its order do not depend on dp. With
// a curriculum, source weights or quality sampling the sequence comes from
// the sample sampler (data/sample_sampler.h), else from the data's window
// order (data/sequence_loader.h).
#include <memory>

#include "phases/schedule/phase.h"

namespace pouch {

std::unique_ptr<Phase> make_pretrain_phase(const PhaseContext& ctx);

}  // namespace pouch
