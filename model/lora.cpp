#include "model/lora.h"

#include <cmath>

#include "runtime/rng.h"

namespace pouch {

namespace {
// A tensor [..., cols] read as a matrix [rows, cols].
Tensor as_rows(const Tensor& t, std::int64_t cols) { return t.reshape({t.numel() / cols, cols}); }
}  // namespace

LoraAdapter::LoraAdapter(ParameterStore& store, const std::string& name, Kind kind, std::int64_t in, std::int64_t out,
                         std::int64_t rank, float alpha, const TensorParallelGroup& tp, int sections)
    : name_(name), kind_(kind), rank_(rank), scale_(alpha / static_cast<float>(rank)), tp_(tp) {
  POUCH_CHECK(rank > 0, "LoRA rank {} must be positive", rank);
  if (kind == Kind::Column) {
    a_ = store.add(name + ".lora_A", {rank, in});
    b_ = store.add(name + ".lora_B", {out, rank}, tp.rows(sections));
  } else {
    a_ = store.add(name + ".lora_A", {rank, in}, tp.columns());
    b_ = store.add(name + ".lora_B", {out, rank});
  }
}

void LoraAdapter::init_weights(Backend& be, std::uint64_t seed) const {
  Tensor full = Tensor::empty(a_->full_shape);
  const float bound = 1.0f / std::sqrt(static_cast<float>(a_->full_shape[1]));
  RngStream rng(seed, stream_id(a_->name.c_str()));
  for (std::int64_t i = 0; i < full.numel(); ++i) full.f32()[i] = bound * (2.0f * rng.uniform() - 1.0f);
  copy_full_to_shard(be, a_->shard, full, a_->value);
  be.fill(b_->value, 0.0f);
}

void LoraAdapter::ensure_scratch(Backend& be, std::int64_t rows) {
  if (!u_.defined() || u_.dim(0) != rows) {
    u_ = be.empty({rows, rank_});
    du_ = be.empty({rows, rank_});
  }
}

void LoraAdapter::forward_add(Backend& be, const Tensor& out, const Tensor& x) {
  const std::int64_t in = a_->shape[1];
  const Tensor x2 = as_rows(x, in), out2 = as_rows(out, b_->shape[0]);
  ensure_scratch(be, x2.dim(0));
  be.linear_forward(u_, x2, a_->value, Tensor());             // u [N, r] = x A^T (Row: this rank's partial)
  be.matmul(out2, u_, b_->value, false, true, scale_, 1.0f);  // out += s u B^T
}

void LoraAdapter::backward(Backend& be, const Tensor& dx, const Tensor& dy, const Tensor& x) {
  const std::int64_t in = a_->shape[1];
  const Tensor x2 = as_rows(x, in), dy2 = as_rows(dy, b_->shape[0]);
  ensure_scratch(be, x2.dim(0));
  be.linear_forward(u_, x2, a_->value, Tensor());
  if (kind_ == Kind::Row) tp_.all_reduce_sum(u_);              // the full u = sum over ranks of x_r A_r^T
  be.matmul(b_->grad, dy2, u_, true, false, scale_, 1.0f);     // dB [out(_r), r] += s dy^T u
  be.matmul(du_, dy2, b_->value, false, false, scale_, 0.0f);  // du = s dy B  (Column: partial)
  if (dx.defined()) be.matmul(as_rows(dx, in), du_, a_->value, false, false, 1.0f, 1.0f);  // dx += du A
  if (kind_ == Kind::Column) tp_.all_reduce_sum(du_);
  be.matmul(a_->grad, du_, x2, true, false, 1.0f, 1.0f);  // dA [r, in(_r)] += du^T x
}

}  // namespace pouch
