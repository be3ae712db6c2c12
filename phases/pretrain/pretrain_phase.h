#pragma once
// kind = pretrain: next-token training on the run's data. For global
// optimizer step g (phases/schedule/phase.h: the phase's offset plus its
// in-phase step) and micro-batch m, data-parallel rank d reads global
// sequences (g·A + m)·B + d·B/dp ... + B/dp − 1 (A = grad_accum, B =
// batch_size), so the global batch and its order do not depend on dp, and a
// second pretrain phase reads on where the first stopped. With a curriculum,
// source weights or quality sampling the sequence comes from the curriculum
// sampler (data/curriculum_sampler.h; its pacing runs over the in-phase
// step), else from the data's window order (data/sequence_loader.h).
#include <memory>

#include "phases/schedule/phase.h"

namespace pouch {

std::unique_ptr<Phase> make_pretrain_phase(const PhaseContext& ctx);

}  // namespace pouch
