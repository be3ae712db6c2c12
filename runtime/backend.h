#pragma once
// The Backend interface: every numeric operation the model needs, on tensors
// of one device. The CPU backend (runtime/cpu/) is the reference and what
// every test runs here; a CUDA backend implements the same interface later.
// Modules in model/ hold a Backend& and never touch a kernel directly.
//
// Conventions, for every method:
//  - Tensors are contiguous row-major; shapes are given in comments, with
//    N = number of rows (B*T for activations).
//  - An output named d* that says "+=" accumulates (gradients of parameters
//    and of the residual stream); "=" overwrites.
//  - An undefined Tensor (Tensor()) as an optional output means "skip it".
//  - Integer ids are int32.
//
// Streams: a backend has one compute stream. Every op below is enqueued on it
// in call order and, unless its comment says otherwise, does not block the
// host: on a device, a call returns once the work is queued, and the host may
// read the results only after an event or synchronize() says they are done.
// The CPU backend runs each call to completion before returning, so its
// events are complete at creation and its waits return at once; it still
// counts host syncs, so a sync budget can be checked on the CPU too.
//
// Threads: one thread per instance. A Backend is called by one thread at a
// time: each kernel runs an OpenMP team of the process's compute threads
// (runtime/threads.h), which two callers at once would oversubscribe, and
// decorators keep unguarded state (ProfilingBackend's timings). Threads that
// are not the training thread (the background checkpoint writer) never call
// one: they work on copies of tensors taken by the training thread.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/device_event.h"
#include "runtime/precision.h"
#include "runtime/tensor.h"

namespace pouch {

// A slice [offset, offset + numel) of a flat buffer whose sum of squares
// goes to out[slot] (Backend::sum_squares_segments).
struct SquareSumSegment {
  std::int64_t offset = 0;
  std::int64_t numel = 0;
  int slot = 0;
};

struct AdamWParams {
  float lr = 3e-4f;
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;  // decoupled (AdamW), applied as p -= lr*wd*p
  long step = 1;              // 1-based, for the bias corrections 1 - beta^step
  float grad_scale = 1.0f;    // gradients are multiplied by this first (clipping, loss-scale undo)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual std::string name() const = 0;

  // ---- memory ----
  // Tensors on this backend's device. zeros() is ordered on the compute stream.
  virtual Tensor empty(Shape shape, DType dtype = DType::F32) = 0;
  virtual Tensor zeros(Shape shape, DType dtype = DType::F32) = 0;
  // A host tensor (Device::CPU) that copies to and from this device can use
  // without staging: page-locked on CUDA, plain host memory on the CPU.
  virtual Tensor empty_host(Shape shape, DType dtype = DType::F32) = 0;
  // Every element of t = value, on the compute stream. F32 and F64 take the
  // value as is, I32 takes it exactly (it must be an integer); the other
  // dtypes accept only +0 (all bits zero, +0 in every float format).
  virtual void fill(const Tensor& t, float value) = 0;
  // dst = src, on the compute stream: same numel and dtype, any pair of this
  // backend's device and the host, not overlapping unless they are the same
  // memory (then it does nothing). A copy to pageable host memory (not from
  // empty_host) blocks the host until it is done and counts as a host sync.
  virtual void copy(const Tensor& dst, const Tensor& src) = 0;
  // Strided rows, on the compute stream: for r < rows, the row_elems elements
  // at src[r * src_row_stride] go to dst[r * dst_row_stride] (strides in
  // elements, each >= row_elems; dst and src same dtype, not overlapping).
  // Devices and host syncs as copy().
  virtual void copy_2d(const Tensor& dst, std::int64_t dst_row_stride, const Tensor& src, std::int64_t src_row_stride,
                       std::int64_t rows, std::int64_t row_elems) = 0;
  // A new tensor on this backend's device with t's shape, dtype and values,
  // copied on the compute stream. t may be on the host or on this device.
  virtual Tensor clone(const Tensor& t) = 0;

  // ---- ordering ----
  // An event at the current end of the compute stream. Never blocks the host.
  virtual std::shared_ptr<DeviceEvent> record_event() = 0;
  // Work enqueued after this call runs after `event` completes. The host
  // does not block. `event` may come from another stream of this backend.
  virtual void wait_event(const DeviceEvent& event) = 0;
  // Blocks the host until all enqueued work is done: one host sync.
  virtual void synchronize() = 0;
  // Seconds between two completed events of this backend (end after start).
  // Does not block the host; an event that has not completed is a bug.
  virtual double elapsed_s(const DeviceEvent& start, const DeviceEvent& end) = 0;
  // How many times this backend has blocked the host on device work so far:
  // synchronize(), DeviceEvent::synchronize() on its events, and copies into
  // pageable host memory. Never decreases.
  virtual std::int64_t host_syncs() const = 0;
  // The compute stream as an opaque handle (cudaStream_t on CUDA), for code
  // that launches on it directly; null on the CPU.
  virtual void* stream_handle() const = 0;

  // ---- dense algebra ----
  // out[M,N] = alpha * op(a) * op(b) + beta * out, op = transpose if flagged.
  // a is [M,K] (or [K,M] when trans_a), b is [K,N] (or [N,K] when trans_b).
  virtual void matmul(const Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                      float alpha = 1.0f, float beta = 0.0f) = 0;
  // out[N,O] = x[N,I] * w[O,I]^T + bias[O]   (bias optional; PyTorch Linear layout)
  virtual void linear_forward(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias) = 0;
  // dx[N,I] = dy[N,O] * w[O,I]            (optional, "=")
  // dw[O,I] += dy^T * x                    (optional, "+=")
  // dbias[O] += sum over rows of dy        (optional, "+=")
  virtual void linear_backward(const Tensor& dx, const Tensor& dw, const Tensor& dbias, const Tensor& dy,
                               const Tensor& x, const Tensor& w) = 0;

  // ---- normalisation and pointwise ----
  // out[N,C] = (x - mean) * rstd * w + b; mean[N], rstd[N] saved for backward (optional).
  virtual void layernorm_forward(const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& x,
                                 const Tensor& w, const Tensor& b, float eps) = 0;
  // dx[N,C] +=, dw[C] +=, db[C] += (dx accumulates: it is the residual stream's gradient).
  virtual void layernorm_backward(const Tensor& dx, const Tensor& dw, const Tensor& db, const Tensor& dy,
                                  const Tensor& x, const Tensor& w, const Tensor& mean, const Tensor& rstd) = 0;
  // GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). out may alias x.
  virtual void gelu_forward(const Tensor& out, const Tensor& x) = 0;
  // dx = dy * gelu'(x), "="; dx may alias dy.
  virtual void gelu_backward(const Tensor& dx, const Tensor& dy, const Tensor& x) = 0;
  // out = a + b elementwise; out may alias a or b.
  virtual void add(const Tensor& out, const Tensor& a, const Tensor& b) = 0;
  // x *= s
  virtual void scale(const Tensor& x, float s) = 0;
  // Row-wise softmax: out[N,V] = softmax(x[N,V] / temperature). out may alias x.
  virtual void softmax_forward(const Tensor& out, const Tensor& x, float temperature = 1.0f) = 0;

  // ---- mixed precision (runtime/precision.h, runtime/mixed_precision_weights.h) ----
  // out[n] (f32) = widen(narrow_p(x[n])): x rounded to bf16/fp16, to nearest
  // even, and held in f32. How activations and working weights are "stored in
  // 16 bits" where the kernels compute in f32. out may alias x; FP32: out = x.
  virtual void round_to_precision(const Tensor& out, const Tensor& x, Precision p) = 0;
  // out = x in another float format, same numel: f32 -> bf16 or f16 (round
  // to nearest even, NaN kept quiet, overflow to inf), bf16/f16 -> f32 (exact).
  virtual void cast(const Tensor& out, const Tensor& x) = 0;
  // grads[n] *= inv_scale (no multiply when inv_scale == 1), and found[1]
  // (i32, "=") = 1 when an element of the result is inf or NaN, else 0: the
  // fp16 overflow check of a loss-scaled step. found stays on the device;
  // reading it is the caller's one host sync.
  virtual void unscale_and_check(const Tensor& grads, float inv_scale, const Tensor& found) = 0;

  // ---- embeddings ----
  // out[N,C] (= or += when accumulate) table[ids[n] - vocab_start] for ids inside
  // [vocab_start, vocab_start + V); rows whose id falls outside get 0 (or nothing
  // added). vocab_start > 0 is the vocab-parallel shard form; 0 is the whole table.
  virtual void embedding_forward(const Tensor& out, const Tensor& ids, const Tensor& table, long vocab_start,
                                 bool accumulate) = 0;
  // dtable[V,C] += dout rows scattered to their ids (same range rule). Deterministic.
  virtual void embedding_backward(const Tensor& dtable, const Tensor& dout, const Tensor& ids, long vocab_start) = 0;

  // ---- attention ----
  // Causal multi-head self-attention over a fused qkv [B,T,3C]: columns [0,C) are
  // q, [C,2C) k, [2C,3C) v, and head h owns columns h*hs..(h+1)*hs of each,
  // hs = C / heads. out[B,T,C] (head h at columns h*hs), scores scaled by
  // 1/sqrt(hs). lse[B,heads,T] (optional) receives each query row's
  // log-sum-exp, which is all backward needs: no T x T matrix is kept.
  virtual void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& qkv, int heads) = 0;
  // dqkv[B,T,3C] "=", from dout[B,T,C] and the forward's qkv, out and lse.
  virtual void attention_backward(const Tensor& dqkv, const Tensor& dout, const Tensor& qkv, const Tensor& out,
                                  const Tensor& lse, int heads) = 0;
  // One decoding step with a KV cache: q[B,C] attends to keys/values k,v
  // [B,Tmax,C] at positions [0, len) (len includes the new token). out[B,C].
  virtual void attention_decode(const Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v, long len,
                                int heads) = 0;

  // ---- loss ----
  // Fused softmax + cross-entropy over logits[N,V]: losses[N] = logsumexp(row) -
  // row[target]; dlogits[N,V] = (softmax(row) - onehot(target)) * grad_scale.
  // dlogits may alias logits (then the logits are consumed) or be undefined.
  // A target < 0 is ignored: its loss and gradient are 0.
  virtual void cross_entropy_forward_backward(const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                              const Tensor& targets, float grad_scale) = 0;

  // Vocab-parallel cross-entropy (tensor parallelism; runtime/cpu/vocab_parallel_ce.h
  // has the math). logits [N, V] are this rank's columns [vocab_start,
  // vocab_start + V) of the full vocabulary; the first `valid` are real. The
  // caller all-reduces row_max (MAX) after step 1 and stats (SUM) after step 2.
  // 1. row_max[N] = max of the local real logits.
  virtual void vocab_parallel_ce_max(const Tensor& row_max, const Tensor& logits, long valid) = 0;
  // 2. stats [2, N]: row 0 = sum of exp(logit - row_max), row 1 = the target's
  //    logit when the target is local, else 0.
  virtual void vocab_parallel_ce_stats(const Tensor& stats, const Tensor& logits, const Tensor& row_max,
                                       const Tensor& targets, long vocab_start, long valid) = 0;
  // 3. losses[N] (optional) and dlogits[N, V] (optional, may alias logits), as
  //    cross_entropy_forward_backward; padding columns get gradient 0.
  virtual void vocab_parallel_ce_finish(const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                        const Tensor& row_max, const Tensor& stats, const Tensor& targets,
                                        long vocab_start, long valid, float grad_scale) = 0;

  // Row-weighted forms for the policy losses (PPO / GRPO): as
  // cross_entropy_forward_backward and vocab_parallel_ce_finish, but row n's
  // gradient is scaled by row_weights[n] (F32 [N], any sign, on this device)
  // instead of one grad_scale. Bitwise the same as a one-row call per row
  // with grad_scale = row_weights[n].
  virtual void cross_entropy_row_weighted(const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                          const Tensor& targets, const Tensor& row_weights) = 0;
  virtual void vocab_parallel_ce_finish_row_weighted(const Tensor& losses, const Tensor& dlogits, const Tensor& logits,
                                                     const Tensor& row_max, const Tensor& stats, const Tensor& targets,
                                                     long vocab_start, long valid, const Tensor& row_weights) = 0;
  // Softmax entropy of each row of logits[N, V], in two steps around the
  // tensor-parallel all-reduce (SUM) of stats:
  // 1. stats [2, N] "=": row 0 = sum of exp(z), row 1 = sum of exp(z) * z,
  //    z = logit - row_max[n], over the first `valid` columns (each summed
  //    in double, in column order, then rounded to f32).
  virtual void softmax_entropy_stats(const Tensor& stats, const Tensor& logits, const Tensor& row_max, long valid) = 0;
  // 2. entropy[N] "=" log(s) - t / s with (s, t) the columns of stats, in double.
  virtual void softmax_entropy_finish(const Tensor& entropy, const Tensor& stats) = 0;
  // out [2] F64 "+=": out[0] += the sum of losses[n] (F32 [N]) over the rows
  // with targets[n] >= 0 (I32 [N]), summed in double from 0 in row order
  // before the add; out[1] += how many such rows. The loss of a step
  // accumulates here on the device and is read once.
  virtual void masked_loss_sum(const Tensor& losses, const Tensor& targets, const Tensor& out) = 0;

  // ---- elastic weight consolidation (EWC, Kirkpatrick et al. 2017) ----
  // fisher[i] = f32(fisher[i] + weight * grads[i]^2), the product in double.
  virtual void ewc_fisher_accumulate(const Tensor& fisher, const Tensor& grads, double weight) = 0;
  // grads[i] += (lambda * fisher[i]) * (values[i] - anchor[i]), in f32: the
  // gradient of the penalty (lambda / 2) sum_i F_i (v_i - a_i)^2.
  virtual void ewc_penalty_gradient(const Tensor& grads, const Tensor& values, const Tensor& anchor,
                                    const Tensor& fisher, float lambda) = 0;
  // out [1] F64 "=" sum_i fisher[i] * d_i^2, d_i = values[i] - anchor[i], in
  // double and index order (the penalty is 0.5 * lambda * out[0]).
  virtual void ewc_penalty_sum(const Tensor& out, const Tensor& values, const Tensor& anchor, const Tensor& fisher) = 0;

  // ---- optimizer and reductions ----
  // AdamW (Loshchilov & Hutter; PyTorch's torch.optim.AdamW semantics):
  //   g = grad * grad_scale; p -= lr*wd*p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2
  //   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
  virtual void adamw_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                            const AdamWParams& hp) = 0;
  // sum of x^2 over all elements, accumulated in double.
  virtual double sum_squares(const Tensor& x) = 0;
  // out[s] "=" the sum over the segments with slot s, in list order, of each
  // segment's sum of squares of flat [F32] (each summed exactly as
  // sum_squares sums a tensor of its own); out is F64 on this device, slots
  // without a segment get 0. One call for all of a model's parameters, and
  // the result stays on the device: the host reads it with one copy.
  virtual void sum_squares_segments(const Tensor& flat, const std::vector<SquareSumSegment>& segments,
                                    const Tensor& out) = 0;
};

// The backend for a device. local_rank is the process's rank among the ranks
// of its node (ParallelContext::local_rank, the MPI shared-memory split):
// it picks the GPU on CUDA, never rank % gpus; the CPU and sim backends
// ignore it. Defined in runtime/backend_registry.cpp, the only file of
// runtime/ that may branch on POUCH_CUDA (house.device_guards checks it).
std::unique_ptr<Backend> make_backend(Device device, int local_rank = 0);

// Whether this build has the CUDA backend and how many devices it sees; when
// either is missing, `reason` says why and how to get it (`pouch info`
// prints it, device = cuda fails with it).
struct CudaAvailability {
  bool built = false;
  int devices = 0;
  std::string reason;
};
CudaAvailability cuda_availability();

}  // namespace pouch
