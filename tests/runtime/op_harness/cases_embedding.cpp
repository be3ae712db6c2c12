// embedding_forward, embedding_backward. Ids run 3 below and 3 above the
// shard's range [vocab_start, vocab_start + V), so rows outside it (negative
// ids too when vocab_start = 0) are exercised; N > V makes ids repeat.
#include <fmt/format.h>

#include "tests/runtime/op_harness/case_helpers.h"
#include "tests/runtime/op_harness/reference.h"

namespace pouch::op_harness {
namespace {

struct EmbeddingShape {
  i64 N, V, C, vocab_start;
};

std::vector<std::int32_t> shard_ids(Rng& rng, const EmbeddingShape& s) {
  return rng.ints(s.N, static_cast<std::int32_t>(s.vocab_start - 3),
                  static_cast<std::int32_t>(s.vocab_start + s.V + 2));
}

void add_forward(std::vector<OpCase>& cases, EmbeddingShape s, bool accumulate) {
  const std::string variant =
      fmt::format("N={} V={} C={} vocab_start={}{}", s.N, s.V, s.C, s.vocab_start, accumulate ? " out+=" : " out=");
  cases.push_back({"embedding_forward", variant, Precision::F32, [=](std::uint32_t seed) {
                     struct In {
                       std::vector<std::int32_t> ids;
                       std::vector<float> table, out0;
                     };
                     Rng rng(seed);
                     auto in = share(In{shard_ids(rng, s), rng.uniform(s.V * s.C), rng.uniform(s.N * s.C)});
                     Problem p;
                     p.run = [=](Backend& be) {
                       Tensor out = accumulate ? upload(be, in->out0, {s.N, s.C}) : poisoned(be, {s.N, s.C});
                       be.embedding_forward(out, upload_ids(be, in->ids, {s.N}), upload(be, in->table, {s.V, s.C}),
                                            s.vocab_start, accumulate);
                       return Outputs{read(be, "out", out)};
                     };
                     p.reference = [=] {
                       Vec out = to_vec(in->out0);
                       ref::embedding_forward(out, in->ids, to_vec(in->table), s.V, s.C, s.vocab_start, accumulate);
                       return Outputs{{"out", out}};
                     };
                     return p;
                   }});
}

void add_backward(std::vector<OpCase>& cases, EmbeddingShape s) {
  const std::string variant = fmt::format("N={} V={} C={} vocab_start={} dtable+=", s.N, s.V, s.C, s.vocab_start);
  cases.push_back({"embedding_backward", variant, Precision::F32, [=](std::uint32_t seed) {
                     struct In {
                       std::vector<std::int32_t> ids;
                       std::vector<float> dout, dtable0;
                     };
                     Rng rng(seed);
                     auto in = share(In{shard_ids(rng, s), rng.uniform(s.N * s.C), rng.uniform(s.V * s.C)});
                     Problem p;
                     p.run = [=](Backend& be) {
                       Tensor dtable = upload(be, in->dtable0, {s.V, s.C});
                       be.embedding_backward(dtable, upload(be, in->dout, {s.N, s.C}), upload_ids(be, in->ids, {s.N}),
                                             s.vocab_start);
                       return Outputs{read(be, "dtable", dtable)};
                     };
                     p.reference = [=] {
                       Vec dtable = to_vec(in->dtable0);
                       ref::embedding_backward(dtable, to_vec(in->dout), in->ids, s.V, s.C, s.vocab_start);
                       return Outputs{{"dtable", dtable}};
                     };
                     return p;
                   }});
}

}  // namespace

void add_embedding_cases(std::vector<OpCase>& cases) {
  add_forward(cases, {1, 1, 1, 0}, false);
  add_forward(cases, {7, 63, 1000, 0}, false);
  add_forward(cases, {1023, 63, 7, 5}, true);
  add_forward(cases, {63, 1000, 63, 1000}, false);
  add_forward(cases, {1000, 7, 1023, 0}, true);
  add_forward(cases, {1, 1023, 63, 7}, true);

  add_backward(cases, {1, 1, 1, 0});
  add_backward(cases, {1023, 7, 63, 0});
  add_backward(cases, {1000, 63, 7, 63});
  add_backward(cases, {63, 1000, 1023, 0});
  add_backward(cases, {7, 1, 1000, 1});
}

}  // namespace pouch::op_harness
