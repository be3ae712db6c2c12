// attention_forward, attention_backward, attention_decode.
#include <fmt/format.h>

#include "tests/runtime/op_harness/case_helpers.h"
#include "tests/runtime/op_harness/reference.h"

namespace pouch::op_harness {
namespace {

struct AttentionShape {
  i64 B, T, C, heads;
};

std::string shape_name(const AttentionShape& s) {
  return fmt::format("B={} T={} C={} heads={} (hs={})", s.B, s.T, s.C, s.heads, s.C / s.heads);
}

// q and k in [-2, 2]: scores far enough apart that the softmax is not flat.
std::vector<float> random_qkv(Rng& rng, const AttentionShape& s) {
  return rng.uniform(s.B * s.T * 3 * s.C, -2.0f, 2.0f);
}

void add_forward(std::vector<OpCase>& cases, AttentionShape s, bool with_lse) {
  cases.push_back(
      {"attention_forward", shape_name(s) + (with_lse ? " lse" : " no lse"), Precision::F32, [=](std::uint32_t seed) {
         Rng rng(seed);
         auto qkv = share(random_qkv(rng, s));
         Problem p;
         p.run = [=](Backend& be) {
           Tensor out = poisoned(be, {s.B, s.T, s.C});
           Tensor lse = with_lse ? poisoned(be, {s.B, s.heads, s.T}) : Tensor();
           be.attention_forward(out, lse, upload(be, *qkv, {s.B, s.T, 3 * s.C}), static_cast<int>(s.heads));
           Outputs o{read(be, "out", out)};
           if (with_lse) o.push_back(read(be, "lse", lse));
           return o;
         };
         p.reference = [=] {
           ref::Attention r = ref::attention_forward(to_vec(*qkv), s.B, s.T, s.C, s.heads);
           Outputs o{{"out", r.out}};
           if (with_lse) o.push_back({"lse", r.lse});
           return o;
         };
         return p;
       }});
}

void add_backward(std::vector<OpCase>& cases, AttentionShape s) {
  cases.push_back(
      {"attention_backward", shape_name(s), Precision::F32, [=](std::uint32_t seed) {
         // out and lse are the forward's: the exact ones rounded to float.
         struct In {
           std::vector<float> qkv, dout, out, lse;
         };
         Rng rng(seed);
         In in{random_qkv(rng, s), rng.uniform(s.B * s.T * s.C), {}, {}};
         const ref::Attention f = ref::attention_forward(to_vec(in.qkv), s.B, s.T, s.C, s.heads);
         in.out = to_floats(f.out);
         in.lse = to_floats(f.lse);
         auto sh = share(std::move(in));
         Problem p;
         p.run = [=](Backend& be) {
           Tensor dqkv = poisoned(be, {s.B, s.T, 3 * s.C});
           be.attention_backward(dqkv, upload(be, sh->dout, {s.B, s.T, s.C}), upload(be, sh->qkv, {s.B, s.T, 3 * s.C}),
                                 upload(be, sh->out, {s.B, s.T, s.C}), upload(be, sh->lse, {s.B, s.heads, s.T}),
                                 static_cast<int>(s.heads));
           return Outputs{read(be, "dqkv", dqkv)};
         };
         p.reference = [=] {
           return Outputs{{"dqkv", ref::attention_backward(to_vec(sh->dout), to_vec(sh->qkv), s.B, s.T, s.C, s.heads)}};
         };
         return p;
       }});
}

struct DecodeShape {
  i64 B, Tmax, len, C, heads;
};

// Cache positions at and after len hold keys that would dominate every score
// and values far off the rest: reading one shows in the output.
void add_decode(std::vector<OpCase>& cases, DecodeShape s) {
  const std::string variant =
      fmt::format("B={} Tmax={} len={} C={} heads={} (hs={})", s.B, s.Tmax, s.len, s.C, s.heads, s.C / s.heads);
  cases.push_back({"attention_decode", variant, Precision::F32, [=](std::uint32_t seed) {
                     struct In {
                       std::vector<float> q, k, v;
                     };
                     Rng rng(seed);
                     In in{rng.uniform(s.B * s.C, -2.0f, 2.0f), rng.uniform(s.B * s.Tmax * s.C, -2.0f, 2.0f),
                           rng.uniform(s.B * s.Tmax * s.C)};
                     for (i64 b = 0; b < s.B; ++b)
                       for (i64 t = s.len; t < s.Tmax; ++t)
                         for (i64 c = 0; c < s.C; ++c) {
                           const i64 i = (b * s.Tmax + t) * s.C + c;
                           in.k[i] = in.q[b * s.C + c] > 0.0f ? 30.0f : -30.0f;
                           in.v[i] = 1000.0f;
                         }
                     auto sh = share(std::move(in));
                     Problem p;
                     p.run = [=](Backend& be) {
                       Tensor out = poisoned(be, {s.B, s.C});
                       be.attention_decode(out, upload(be, sh->q, {s.B, s.C}), upload(be, sh->k, {s.B, s.Tmax, s.C}),
                                           upload(be, sh->v, {s.B, s.Tmax, s.C}), s.len, static_cast<int>(s.heads));
                       return Outputs{read(be, "out", out)};
                     };
                     p.reference = [=] {
                       return Outputs{{"out", ref::attention_decode(to_vec(sh->q), to_vec(sh->k), to_vec(sh->v), s.B,
                                                                    s.Tmax, s.len, s.C, s.heads)}};
                     };
                     return p;
                   }});
}

}  // namespace

void add_attention_cases(std::vector<OpCase>& cases) {
  const AttentionShape shapes[] = {{1, 1, 1, 1},    {1, 7, 63, 7},    {2, 63, 63, 3},
                                   {1, 1000, 7, 1}, {1, 1023, 63, 7}, {7, 63, 63, 63}};
  for (const AttentionShape& s : shapes) {
    add_forward(cases, s, true);
    add_backward(cases, s);
  }
  add_forward(cases, {2, 63, 63, 3}, false);
  add_forward(cases, {1, 1000, 7, 1}, false);

  add_decode(cases, {1, 1, 1, 1, 1});
  add_decode(cases, {7, 63, 63, 63, 7});
  add_decode(cases, {2, 1023, 1000, 63, 9});
  add_decode(cases, {1, 1000, 7, 7, 1});
  add_decode(cases, {3, 7, 1, 63, 3});
}

}  // namespace pouch::op_harness
