#pragma once
// Double-precision references of the Backend ops: plain loops written from
// the math of the contract comments in runtime/backend.h and the papers they
// cite, sharing no code with the kernels. Layouts as in backend.h; every
// "+=" output is passed in and accumulated into, as the op does.
// test_reference_gradients.cpp checks each backward here against central
// finite differences of the forward here.
#include <cstdint>
#include <vector>

#include "runtime/backend.h"
#include "tests/runtime/op_harness/op_case.h"

namespace pouch::op_harness::ref {

using i64 = std::int64_t;
using Ids = std::vector<std::int32_t>;

// out[M,N] = alpha op(a) op(b) + beta out; with beta = 0 out is not read (BLAS).
void matmul(Vec& out, const Vec& a, const Vec& b, bool trans_a, bool trans_b, i64 M, i64 N, i64 K, double alpha,
            double beta);
// out[N,O] = x[N,I] w[O,I]^T + bias[O] (bias empty: none).
Vec linear_forward(const Vec& x, const Vec& w, const Vec& bias, i64 N, i64 I, i64 O);
// dx = dy w ("="); dw += dy^T x; dbias += column sums of dy. Empty vectors are skipped.
void linear_backward(Vec* dx, Vec* dw, Vec* dbias, const Vec& dy, const Vec& x, const Vec& w, i64 N, i64 I, i64 O);

// LayerNorm (Ba et al. 2016), biased variance, rstd = 1/sqrt(var + eps).
struct LayerNorm {
  Vec out, mean, rstd;
};
LayerNorm layernorm_forward(const Vec& x, const Vec& w, const Vec& b, i64 N, i64 C, double eps);
// The gradient of sum(dy * out) through out = xhat * w + b, with mean and
// rstd taken as given (the saved forward values); dx, dw, db "+=".
void layernorm_backward(Vec* dx, Vec* dw, Vec* db, const Vec& dy, const Vec& x, const Vec& w, const Vec& mean,
                        const Vec& rstd, i64 N, i64 C);

// GELU, tanh approximation (Hendrycks & Gimpel 2016).
double gelu(double x);
double gelu_grad(double x);

// Row-wise softmax of x / temperature.
Vec softmax(const Vec& x, i64 N, i64 V, double temperature);

// out[n] (= or +=) table[ids[n] - vocab_start] inside [vocab_start, vocab_start + V), else 0 / nothing.
void embedding_forward(Vec& out, const Ids& ids, const Vec& table, i64 V, i64 C, i64 vocab_start, bool accumulate);
// dtable += dout rows scattered to their ids (same range rule).
void embedding_backward(Vec& dtable, const Vec& dout, const Ids& ids, i64 V, i64 C, i64 vocab_start);

// Causal self-attention over fused qkv [B,T,3C] (Vaswani et al. 2017),
// scores scaled by 1/sqrt(hs); lse[B,H,T] = log sum_j<=t exp(score).
struct Attention {
  Vec out, lse;
};
Attention attention_forward(const Vec& qkv, i64 B, i64 T, i64 C, i64 H);
// dqkv "=": the exact gradient of sum(dout * out) with respect to qkv,
// probabilities recomputed from qkv in double.
Vec attention_backward(const Vec& dout, const Vec& qkv, i64 B, i64 T, i64 C, i64 H);
// q[B,C] against k, v [B,Tmax,C] at positions [0, len), no mask within.
Vec attention_decode(const Vec& q, const Vec& k, const Vec& v, i64 B, i64 Tmax, i64 len, i64 C, i64 H);

// losses[n] = logsumexp(row) - row[target]; dlogits = (softmax - onehot) * grad_scale; 0 where target < 0.
void cross_entropy(Vec& losses, Vec& dlogits, const Vec& logits, const Ids& targets, i64 N, i64 V, double grad_scale);

// Vocab-parallel pieces (Megatron-LM, Shoeybi et al. 2019): logits [N,V] are
// columns [vocab_start, vocab_start + V) of the vocabulary, the first `valid` real.
Vec vocab_parallel_max(const Vec& logits, i64 N, i64 V, i64 valid);
// [2,N]: row 0 = sum_j<valid exp(l - row_max), row 1 = the target's logit when local, else 0.
Vec vocab_parallel_stats(const Vec& logits, const Vec& row_max, const Ids& targets, i64 N, i64 V, i64 valid,
                         i64 vocab_start);
// losses = log(sum_exp) + row_max - target_logit; dlogits = (exp(l - row_max) /
// sum_exp - onehot) * grad_scale on real columns, 0 on padding and ignored rows.
void vocab_parallel_finish(Vec& losses, Vec& dlogits, const Vec& logits, const Vec& row_max, const Vec& stats,
                           const Ids& targets, i64 N, i64 V, i64 valid, i64 vocab_start, double grad_scale);

// One AdamW step (Loshchilov & Hutter 2019; torch.optim.AdamW): decoupled
// decay, then Adam with bias corrections 1 - beta^step.
void adamw(Vec& p, Vec& m, Vec& v, const Vec& grad, const AdamWParams& hp);

double sum_squares(const Vec& x, i64 offset, i64 n);

}  // namespace pouch::op_harness::ref
