// matmul, linear_forward, linear_backward.
#include <fmt/format.h>

#include "tests/runtime/op_harness/case_helpers.h"
#include "tests/runtime/op_harness/reference.h"

namespace pouch::op_harness {
namespace {

struct MatmulShape {
  i64 M, N, K;
  bool trans_a, trans_b;
  float alpha, beta;
};

void add_matmul(std::vector<OpCase>& cases, MatmulShape s) {
  const std::string variant =
      fmt::format("M={} N={} K={}{}{} alpha={} beta={}{}", s.M, s.N, s.K, s.trans_a ? " a^T" : "",
                  s.trans_b ? " b^T" : "", s.alpha, s.beta, s.beta == 0.0f ? " (out poisoned)" : " (out random)");
  cases.push_back({"matmul", variant, Precision::F32, [s](std::uint32_t seed) {
                     struct In {
                       std::vector<float> a, b, out0;
                     };
                     Rng rng(seed);
                     auto in = share(In{rng.uniform(s.M * s.K), rng.uniform(s.K * s.N), rng.uniform(s.M * s.N)});
                     Problem p;
                     p.run = [s, in](Backend& be) {
                       Tensor a = upload(be, in->a, s.trans_a ? Shape{s.K, s.M} : Shape{s.M, s.K});
                       Tensor b = upload(be, in->b, s.trans_b ? Shape{s.N, s.K} : Shape{s.K, s.N});
                       Tensor out = s.beta == 0.0f ? poisoned(be, {s.M, s.N}) : upload(be, in->out0, {s.M, s.N});
                       be.matmul(out, a, b, s.trans_a, s.trans_b, s.alpha, s.beta);
                       return Outputs{read(be, "out", out)};
                     };
                     p.reference = [s, in] {
                       Vec out = to_vec(in->out0);
                       ref::matmul(out, to_vec(in->a), to_vec(in->b), s.trans_a, s.trans_b, s.M, s.N, s.K, s.alpha,
                                   s.beta);
                       return Outputs{{"out", out}};
                     };
                     return p;
                   }});
}

struct LinearShape {
  i64 N, I, O;
};

void add_linear_forward(std::vector<OpCase>& cases, LinearShape s, bool with_bias) {
  const std::string variant = fmt::format("N={} I={} O={}{}", s.N, s.I, s.O, with_bias ? " bias" : " no bias");
  cases.push_back({"linear_forward", variant, Precision::F32, [s, with_bias](std::uint32_t seed) {
                     struct In {
                       std::vector<float> x, w, bias;
                     };
                     Rng rng(seed);
                     auto in = share(In{rng.uniform(s.N * s.I), rng.uniform(s.O * s.I), rng.uniform(s.O)});
                     Problem p;
                     p.run = [s, in, with_bias](Backend& be) {
                       Tensor out = poisoned(be, {s.N, s.O});
                       Tensor bias = with_bias ? upload(be, in->bias, {s.O}) : Tensor();
                       be.linear_forward(out, upload(be, in->x, {s.N, s.I}), upload(be, in->w, {s.O, s.I}), bias);
                       return Outputs{read(be, "out", out)};
                     };
                     p.reference = [s, in, with_bias] {
                       const Vec bias = with_bias ? to_vec(in->bias) : Vec();
                       return Outputs{{"out", ref::linear_forward(to_vec(in->x), to_vec(in->w), bias, s.N, s.I, s.O)}};
                     };
                     return p;
                   }});
}

// Which optional outputs of linear_backward a case asks for.
struct LinearGrads {
  bool dx, dw, dbias;
};

// dy has mean 0.5: dbias sums it over N rows, and a sum of N terms of mean 0
// can come out near 0, where its f32 rounding (no kernel can do better than
// about sqrt(N) ulps of the terms) is no longer small against the result.
void add_linear_backward(std::vector<OpCase>& cases, LinearShape s, LinearGrads g) {
  const std::string variant = fmt::format("N={} I={} O={} {}{}{}", s.N, s.I, s.O, g.dx ? "dx " : "",
                                          g.dw ? "dw+= " : "", g.dbias ? "dbias+=" : "");
  cases.push_back({"linear_backward", variant, Precision::F32, [s, g](std::uint32_t seed) {
                     struct In {
                       std::vector<float> dy, x, w, dw0, dbias0;
                     };
                     Rng rng(seed);
                     auto in = share(In{rng.uniform(s.N * s.O, -0.5f, 1.5f), rng.uniform(s.N * s.I),
                                        rng.uniform(s.O * s.I), rng.uniform(s.O * s.I), rng.uniform(s.O)});
                     Problem p;
                     p.run = [s, g, in](Backend& be) {
                       Tensor dx = g.dx ? poisoned(be, {s.N, s.I}) : Tensor();
                       Tensor dw = g.dw ? upload(be, in->dw0, {s.O, s.I}) : Tensor();
                       Tensor dbias = g.dbias ? upload(be, in->dbias0, {s.O}) : Tensor();
                       be.linear_backward(dx, dw, dbias, upload(be, in->dy, {s.N, s.O}), upload(be, in->x, {s.N, s.I}),
                                          upload(be, in->w, {s.O, s.I}));
                       Outputs out;
                       if (g.dx) out.push_back(read(be, "dx", dx));
                       if (g.dw) out.push_back(read(be, "dw", dw));
                       if (g.dbias) out.push_back(read(be, "dbias", dbias));
                       return out;
                     };
                     p.reference = [s, g, in] {
                       Vec dx(static_cast<std::size_t>(s.N * s.I)), dw = to_vec(in->dw0), dbias = to_vec(in->dbias0);
                       ref::linear_backward(g.dx ? &dx : nullptr, g.dw ? &dw : nullptr, g.dbias ? &dbias : nullptr,
                                            to_vec(in->dy), to_vec(in->x), to_vec(in->w), s.N, s.I, s.O);
                       Outputs out;
                       if (g.dx) out.push_back({"dx", dx});
                       if (g.dw) out.push_back({"dw", dw});
                       if (g.dbias) out.push_back({"dbias", dbias});
                       return out;
                     };
                     return p;
                   }});
}

}  // namespace

void add_dense_cases(std::vector<OpCase>& cases) {
  add_matmul(cases, {1, 1, 1, false, false, 1.0f, 0.0f});
  for (bool ta : {false, true})
    for (bool tb : {false, true}) add_matmul(cases, {7, 63, 1000, ta, tb, 1.0f, 0.0f});
  add_matmul(cases, {1023, 7, 63, false, true, 1.0f, 0.0f});
  add_matmul(cases, {63, 1000, 7, true, false, -1.5f, 0.5f});
  add_matmul(cases, {1000, 1, 1023, false, false, 1.0f, 1.0f});
  add_matmul(cases, {1, 1023, 63, true, true, 0.5f, -1.0f});
  add_matmul(cases, {1000, 1023, 63, true, true, 1.0f, 0.0f});

  const LinearShape shapes[] = {{1, 1, 1},     {7, 63, 1000}, {1023, 7, 63},   {63, 1000, 7},
                                {1000, 63, 1}, {1, 1023, 63}, {1000, 1023, 63}};
  for (const LinearShape& s : shapes)
    for (bool bias : {true, false}) add_linear_forward(cases, s, bias);
  for (const LinearShape& s : shapes)
    for (LinearGrads g :
         {LinearGrads{true, true, true}, LinearGrads{true, false, false}, LinearGrads{false, true, true}})
      add_linear_backward(cases, s, g);
}

}  // namespace pouch::op_harness
