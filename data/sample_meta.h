#pragma once
// Per-sample (per-document) metadata kept beside a token stream, for the
// samplers of later phases: curriculum by level, per-source weights, quality
// score sampling.
#include <cstdint>
#include <string>

namespace pouch {

struct SampleMeta {
  std::int64_t offset = 0;  // first token in its stream or shard
  std::int64_t length = 0;  // tokens, including the closing end-of-sample token
  std::int32_t level = 0;   // difficulty 1..5; 0 = not graded
  float quality = 0.0f;     // 0 (worst) .. 10 (best)
  std::string source;       // tag for per-source weights, e.g. "simple", "complex"
  bool corrupted = false;   // built-in task only: deliberately wrong steps or answer
};

}  // namespace pouch
