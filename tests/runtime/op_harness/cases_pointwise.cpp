// layernorm_forward/backward, gelu_forward/backward, add, scale, softmax_forward.
#include <fmt/format.h>

#include "tests/runtime/op_harness/case_helpers.h"
#include "tests/runtime/op_harness/reference.h"

namespace pouch::op_harness {
namespace {

constexpr float kLayerNormEps = 1e-5f;

struct RowShape {
  i64 N, C;
};

// x is centred on `offset` so that a one-pass variance (E[x^2] - E[x]^2) loses digits visibly.
void add_layernorm_forward(std::vector<OpCase>& cases, RowShape s, bool save_stats, float offset) {
  const std::string variant =
      fmt::format("N={} C={} offset={}{}", s.N, s.C, offset, save_stats ? " mean+rstd" : " no mean/rstd");
  cases.push_back({"layernorm_forward", variant, Precision::F32, [=](std::uint32_t seed) {
                     struct In {
                       std::vector<float> x, w, b;
                     };
                     Rng rng(seed);
                     auto in = share(In{rng.uniform(s.N * s.C, offset - 1.0f, offset + 1.0f),
                                        rng.uniform(s.C, 0.5f, 1.5f), rng.uniform(s.C, -0.5f, 0.5f)});
                     Problem p;
                     p.run = [=](Backend& be) {
                       Tensor out = poisoned(be, {s.N, s.C});
                       Tensor mean = save_stats ? poisoned(be, {s.N}) : Tensor();
                       Tensor rstd = save_stats ? poisoned(be, {s.N}) : Tensor();
                       be.layernorm_forward(out, mean, rstd, upload(be, in->x, {s.N, s.C}), upload(be, in->w, {s.C}),
                                            upload(be, in->b, {s.C}), kLayerNormEps);
                       Outputs o{read(be, "out", out)};
                       if (save_stats) {
                         o.push_back(read(be, "mean", mean));
                         o.push_back(read(be, "rstd", rstd));
                       }
                       return o;
                     };
                     p.reference = [=] {
                       ref::LayerNorm r =
                           ref::layernorm_forward(to_vec(in->x), to_vec(in->w), to_vec(in->b), s.N, s.C, kLayerNormEps);
                       Outputs o{{"out", r.out}};
                       if (save_stats) {
                         o.push_back({"mean", r.mean});
                         o.push_back({"rstd", r.rstd});
                       }
                       return o;
                     };
                     return p;
                   }});
}

struct NormGrads {
  bool dx, dw, db;
};

// dy has mean 0.5 for db's column sums, as linear_backward's dbias (cases_dense.cpp).
void add_layernorm_backward(std::vector<OpCase>& cases, RowShape s, NormGrads g) {
  const std::string variant =
      fmt::format("N={} C={} {}{}{}", s.N, s.C, g.dx ? "dx+= " : "", g.dw ? "dw+= " : "", g.db ? "db+=" : "");
  cases.push_back(
      {"layernorm_backward", variant, Precision::F32, [=](std::uint32_t seed) {
         // mean and rstd are the forward's saved values: exact ones rounded to float.
         struct In {
           std::vector<float> x, w, dy, mean, rstd, dx0, dw0, db0;
         };
         Rng rng(seed);
         In in{rng.uniform(s.N * s.C, -2.0f, 2.0f),
               rng.uniform(s.C, 0.5f, 1.5f),
               rng.uniform(s.N * s.C, -0.5f, 1.5f),
               {},
               {},
               rng.uniform(s.N * s.C),
               rng.uniform(s.C),
               rng.uniform(s.C)};
         const ref::LayerNorm f = ref::layernorm_forward(
             to_vec(in.x), to_vec(in.w), Vec(static_cast<std::size_t>(s.C), 0.0), s.N, s.C, kLayerNormEps);
         in.mean = to_floats(f.mean);
         in.rstd = to_floats(f.rstd);
         auto sh = share(std::move(in));
         Problem p;
         p.run = [=](Backend& be) {
           Tensor dx = g.dx ? upload(be, sh->dx0, {s.N, s.C}) : Tensor();
           Tensor dw = g.dw ? upload(be, sh->dw0, {s.C}) : Tensor();
           Tensor db = g.db ? upload(be, sh->db0, {s.C}) : Tensor();
           be.layernorm_backward(dx, dw, db, upload(be, sh->dy, {s.N, s.C}), upload(be, sh->x, {s.N, s.C}),
                                 upload(be, sh->w, {s.C}), upload(be, sh->mean, {s.N}), upload(be, sh->rstd, {s.N}));
           Outputs o;
           if (g.dx) o.push_back(read(be, "dx", dx));
           if (g.dw) o.push_back(read(be, "dw", dw));
           if (g.db) o.push_back(read(be, "db", db));
           return o;
         };
         p.reference = [=] {
           Vec dx = to_vec(sh->dx0), dw = to_vec(sh->dw0), db = to_vec(sh->db0);
           ref::layernorm_backward(g.dx ? &dx : nullptr, g.dw ? &dw : nullptr, g.db ? &db : nullptr, to_vec(sh->dy),
                                   to_vec(sh->x), to_vec(sh->w), to_vec(sh->mean), to_vec(sh->rstd), s.N, s.C);
           Outputs o;
           if (g.dx) o.push_back({"dx", dx});
           if (g.dw) o.push_back({"dw", dw});
           if (g.db) o.push_back({"db", db});
           return o;
         };
         return p;
       }});
}

// x spans [-6, 6]: both tails of GELU and the region where tanh saturates.
void add_gelu_forward(std::vector<OpCase>& cases, i64 n, bool in_place) {
  cases.push_back(
      {"gelu_forward", fmt::format("n={}{}", n, in_place ? " out=x" : ""), Precision::F32, [=](std::uint32_t seed) {
         Rng rng(seed);
         auto x = share(rng.uniform(n, -6.0f, 6.0f));
         Problem p;
         p.run = [=](Backend& be) {
           Tensor xt = upload(be, *x, {n});
           Tensor out = in_place ? xt : poisoned(be, {n});
           be.gelu_forward(out, xt);
           return Outputs{read(be, "out", out)};
         };
         p.reference = [=] {
           Vec out(x->size());
           for (std::size_t i = 0; i < out.size(); ++i) out[i] = ref::gelu((*x)[i]);
           return Outputs{{"out", out}};
         };
         return p;
       }});
}

void add_gelu_backward(std::vector<OpCase>& cases, i64 n, bool in_place) {
  cases.push_back(
      {"gelu_backward", fmt::format("n={}{}", n, in_place ? " dx=dy" : ""), Precision::F32, [=](std::uint32_t seed) {
         struct In {
           std::vector<float> dy, x;
         };
         Rng rng(seed);
         auto in = share(In{rng.uniform(n), rng.uniform(n, -6.0f, 6.0f)});
         Problem p;
         p.run = [=](Backend& be) {
           Tensor dy = upload(be, in->dy, {n});
           Tensor dx = in_place ? dy : poisoned(be, {n});
           be.gelu_backward(dx, dy, upload(be, in->x, {n}));
           return Outputs{read(be, "dx", dx)};
         };
         p.reference = [=] {
           Vec dx(static_cast<std::size_t>(n));
           for (i64 i = 0; i < n; ++i) dx[i] = in->dy[i] * ref::gelu_grad(in->x[i]);
           return Outputs{{"dx", dx}};
         };
         return p;
       }});
}

enum class AddAlias { None, OutIsA, OutIsB, AllSame };

void add_add(std::vector<OpCase>& cases, i64 n, AddAlias alias) {
  static const char* const kAlias[] = {"", " out=a", " out=b", " out=a=b"};
  cases.push_back(
      {"add", fmt::format("n={}{}", n, kAlias[static_cast<int>(alias)]), Precision::F32, [=](std::uint32_t seed) {
         struct In {
           std::vector<float> a, b;
         };
         Rng rng(seed);
         auto in = share(In{rng.uniform(n), rng.uniform(n)});
         Problem p;
         p.run = [=](Backend& be) {
           Tensor a = upload(be, in->a, {n});
           Tensor b = alias == AddAlias::AllSame ? a : upload(be, in->b, {n});
           Tensor out = alias == AddAlias::None ? poisoned(be, {n}) : alias == AddAlias::OutIsB ? b : a;
           be.add(out, a, b);
           return Outputs{read(be, "out", out)};
         };
         p.reference = [=] {
           Vec out(static_cast<std::size_t>(n));
           for (i64 i = 0; i < n; ++i)
             out[i] = static_cast<double>(in->a[i]) + (alias == AddAlias::AllSame ? in->a[i] : in->b[i]);
           return Outputs{{"out", out}};
         };
         return p;
       }});
}

void add_scale(std::vector<OpCase>& cases, i64 n, float s) {
  cases.push_back({"scale", fmt::format("n={} s={} (in place)", n, s), Precision::F32, [=](std::uint32_t seed) {
                     Rng rng(seed);
                     auto x = share(rng.uniform(n));
                     Problem p;
                     p.run = [=](Backend& be) {
                       Tensor xt = upload(be, *x, {n});
                       be.scale(xt, s);
                       return Outputs{read(be, "x", xt)};
                     };
                     p.reference = [=] {
                       Vec out = to_vec(*x);
                       for (double& v : out) v *= s;
                       return Outputs{{"x", out}};
                     };
                     return p;
                   }});
}

// Logits in [offset - 10, offset + 10]: offset 80 overflows exp without the max shift.
void add_softmax(std::vector<OpCase>& cases, RowShape s, float temperature, bool in_place, float offset) {
  const std::string variant =
      fmt::format("N={} V={} temperature={} offset={}{}", s.N, s.C, temperature, offset, in_place ? " out=x" : "");
  cases.push_back({"softmax_forward", variant, Precision::F32, [=](std::uint32_t seed) {
                     Rng rng(seed);
                     auto x = share(rng.uniform(s.N * s.C, offset - 10.0f, offset + 10.0f));
                     Problem p;
                     p.run = [=](Backend& be) {
                       Tensor xt = upload(be, *x, {s.N, s.C});
                       Tensor out = in_place ? xt : poisoned(be, {s.N, s.C});
                       be.softmax_forward(out, xt, temperature);
                       return Outputs{read(be, "out", out)};
                     };
                     p.reference = [=] { return Outputs{{"out", ref::softmax(to_vec(*x), s.N, s.C, temperature)}}; };
                     return p;
                   }});
}

}  // namespace

void add_pointwise_cases(std::vector<OpCase>& cases) {
  const RowShape rows[] = {{1, 1}, {7, 63}, {1023, 7}, {63, 1000}, {1000, 1023}, {1, 1023}};
  for (const RowShape& s : rows) {
    add_layernorm_forward(cases, s, true, 0.0f);
    add_layernorm_forward(cases, s, false, 4.0f);
  }
  // Backward without C = 1: a one-column row has variance 0, so rstd = 1/sqrt(eps) ~ 316 and
  // the exact dx (0: the output is b whatever x is) comes out as f32 rounding times 316, an
  // ill-conditioned case rather than a test of accuracy.
  const RowShape backward_rows[] = {{1, 7}, {7, 63}, {1023, 7}, {63, 1000}, {1000, 1023}, {1, 1023}};
  for (const RowShape& s : backward_rows)
    for (NormGrads g : {NormGrads{true, true, true}, NormGrads{true, false, false}, NormGrads{false, true, true}})
      add_layernorm_backward(cases, s, g);

  const i64 lengths[] = {1, 7, 63, 1000, 1023, 63 * 1000};
  for (i64 n : lengths)
    for (bool in_place : {false, true}) {
      add_gelu_forward(cases, n, in_place);
      add_gelu_backward(cases, n, in_place);
    }
  for (i64 n : lengths)
    for (AddAlias a : {AddAlias::None, AddAlias::OutIsA, AddAlias::OutIsB, AddAlias::AllSame}) add_add(cases, n, a);
  for (i64 n : lengths)
    for (float s : {-0.5f, 3.0f}) add_scale(cases, n, s);

  add_softmax(cases, {1, 1}, 1.0f, false, 0.0f);
  add_softmax(cases, {7, 63}, 1.0f, true, 0.0f);
  add_softmax(cases, {1023, 7}, 0.7f, false, 0.0f);
  add_softmax(cases, {63, 1000}, 2.0f, true, 0.0f);
  add_softmax(cases, {7, 1023}, 1.0f, false, 80.0f);
  add_softmax(cases, {1000, 63}, 0.7f, true, 80.0f);
}

}  // namespace pouch::op_harness
