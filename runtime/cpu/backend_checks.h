// The argument checks of CpuBackend's ops (runtime/cpu/cpu_backend*.cpp),
// shared by its translation units: each names the op and the argument, its
// dtype, shape and device, so a wrong call fails with what to fix before any
// kernel runs. Internal to runtime/cpu/: nothing outside includes it.
#pragma once

#include <cstdint>

#include "runtime/error.h"
#include "runtime/tensor.h"

namespace pouch::cpu_checks {

// A tensor read as a matrix: rows = product of the leading dimensions.
struct Mat {
  std::int64_t rows, cols;
};

inline void require(const Tensor& t, const char* op, const char* name, DType dtype = DType::F32) {
  POUCH_CHECK(t.defined(), "{}: {} is undefined", op, name);
  POUCH_CHECK(t.dtype() == dtype && t.device() == Device::CPU, "{}: {} is {} {} on {}, expected {} on the CPU", op,
              name, dtype_name(t.dtype()), shape_str(t.shape()), device_name(t.device()), dtype_name(dtype));
}

inline Mat as_mat(const Tensor& t, const char* op, const char* name, int min_ndim = 1) {
  POUCH_CHECK(t.ndim() >= min_ndim, "{}: {} {} needs at least {} dimension(s)", op, name, shape_str(t.shape()),
              min_ndim);
  const std::int64_t cols = t.dim(-1);
  return {cols > 0 ? t.numel() / cols : 0, cols};
}

// logits [..., V] with V >= 1 on the CPU, read as [N, V].
inline Mat require_logit_rows(const Tensor& logits, const char* op) {
  require(logits, op, "logits");
  POUCH_CHECK(logits.ndim() >= 1 && logits.dim(-1) >= 1, "{}: logits {} have empty rows", op,
              shape_str(logits.shape()));
  return as_mat(logits, op, "logits");
}

inline void require_numel(const Tensor& t, std::int64_t numel, const char* op, const char* name, const Tensor& ref,
                          const char* ref_name) {
  POUCH_CHECK(t.numel() == numel, "{}: {} {} does not match {} {} (expected {} elements)", op, name,
              shape_str(t.shape()), ref_name, shape_str(ref.shape()), numel);
}

// An f32 CPU tensor of `numel` elements, sized after `ref`.
inline void require_sized(const Tensor& t, std::int64_t numel, const char* op, const char* name, const Tensor& ref,
                          const char* ref_name, DType dtype = DType::F32) {
  require(t, op, name, dtype);
  require_numel(t, numel, op, name, ref, ref_name);
}

inline void require_rows(const Tensor& t, Mat m, const char* op, const char* name, const Tensor& ref,
                         const char* ref_name) {
  POUCH_CHECK(t.ndim() >= 1 && t.dim(-1) == m.cols && t.numel() == m.rows * m.cols,
              "{}: {} {} does not match {} {} (expected {} rows of {})", op, name, shape_str(t.shape()), ref_name,
              shape_str(ref.shape()), m.rows, m.cols);
}

// An optional f32 argument: nullptr when undefined.
inline float* opt_f32(const Tensor& t, const char* op, const char* name) {
  if (!t.defined()) return nullptr;
  require(t, op, name);
  return t.f32();
}

// An optional f32 output of `numel` elements sized after `ref`.
inline float* opt_f32_sized(const Tensor& t, std::int64_t numel, const char* op, const char* name, const Tensor& ref,
                            const char* ref_name) {
  float* p = opt_f32(t, op, name);
  if (p != nullptr) require_numel(t, numel, op, name, ref, ref_name);
  return p;
}

// The checks every vocab-parallel cross-entropy step shares; targets and
// stats are checked when given. Returns logits as a matrix.
inline Mat require_vocab_parallel_ce(const char* op, const Tensor& logits, const Tensor& row_max, long valid,
                                     const Tensor* targets, const Tensor* stats) {
  require(logits, op, "logits");
  require(row_max, op, "row_max");
  const Mat ml = as_mat(logits, op, "logits");
  POUCH_CHECK(valid >= 0 && valid <= ml.cols, "{}: valid {} outside [0, {}]", op, valid, ml.cols);
  require_numel(row_max, ml.rows, op, "row_max", logits, "logits");
  if (targets) require_sized(*targets, ml.rows, op, "targets", logits, "logits", DType::I32);
  if (stats) require_sized(*stats, 2 * ml.rows, op, "stats", logits, "logits");
  return ml;
}

}  // namespace pouch::cpu_checks
