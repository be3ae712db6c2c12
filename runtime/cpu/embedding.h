#pragma once
// Embedding lookup and its gradient, with the vocab-parallel shard form: a
// table holds rows [vocab_start, vocab_start + V) of the full vocabulary.
#include <cstdint>

namespace pouch::cpu {

// For each of the N ids: r = ids[n] - vocab_start; if 0 <= r < V,
// out[n,:] = table[r,:] (or += when accumulate); otherwise out[n,:] = 0 (or
// left alone when accumulate).
void embedding_forward(float* out, const std::int32_t* ids, const float* table, std::int64_t N, std::int64_t V,
                       std::int64_t C, std::int64_t vocab_start, bool accumulate);

// dtable[r,:] += dout[n,:] for every n whose id maps to row r (same range
// rule). Threads split the C channels and each walks the rows in order, so
// every sum has a fixed order: bit-identical for any thread count.
void embedding_backward(float* dtable, const float* dout, const std::int32_t* ids, std::int64_t N, std::int64_t V,
                        std::int64_t C, std::int64_t vocab_start);

}  // namespace pouch::cpu
