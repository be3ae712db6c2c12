#pragma once
// Shared by the fake (in-process) and MPI (multi-rank) collective tests:
// deterministic per-rank inputs of every dtype, the reference result of each
// collective computed in double, and a tolerance check that names the worst
// element. Every rank can compute every other rank's input from (rank, salt),
// so each checks its own result without extra communication.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "parallel/communicator.h"

namespace pouch::test {

inline Tensor rank_data(DType dtype, std::int64_t n, int rank, std::uint32_t salt) {
  std::mt19937 gen(salt * 7919u + static_cast<std::uint32_t>(rank) * 104729u + 1u);
  Tensor t = Tensor::empty({n}, dtype);
  std::uniform_real_distribution<double> real(-1.0, 1.0);
  std::uniform_int_distribution<std::int32_t> integer(-1000, 1000);
  for (std::int64_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DType::F32:
        t.data<float>()[i] = static_cast<float>(real(gen));
        break;
      case DType::F64:
        t.data<double>()[i] = real(gen);
        break;
      case DType::I32:
        t.data<std::int32_t>()[i] = integer(gen);
        break;
      default:
        ADD_FAILURE() << "no test data for " << dtype_name(dtype);
    }
  }
  return t;
}

inline std::vector<double> as_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<std::size_t>(t.numel()));
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    switch (t.dtype()) {
      case DType::F32:
        v[static_cast<std::size_t>(i)] = t.data<float>()[i];
        break;
      case DType::F64:
        v[static_cast<std::size_t>(i)] = t.data<double>()[i];
        break;
      case DType::I32:
        v[static_cast<std::size_t>(i)] = t.data<std::int32_t>()[i];
        break;
      default:
        ADD_FAILURE() << "no conversion for " << dtype_name(t.dtype());
    }
  }
  return v;
}

// op over ranks 0..world-1 of rank_data(dtype, n, r, salt), in double.
inline std::vector<double> reference_reduce(DType dtype, std::int64_t n, int world, std::uint32_t salt, ReduceOp op) {
  std::vector<double> acc = as_doubles(rank_data(dtype, n, 0, salt));
  for (int r = 1; r < world; ++r) {
    const std::vector<double> x = as_doubles(rank_data(dtype, n, r, salt));
    for (std::size_t i = 0; i < acc.size(); ++i) acc[i] = op == ReduceOp::Max ? std::max(acc[i], x[i]) : acc[i] + x[i];
  }
  if (op == ReduceOp::Avg)
    for (double& a : acc) a /= world;
  return acc;
}

inline double tolerance(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return 1e-5;
    case DType::F64:
      return 1e-12;
    default:
      return 0.0;
  }
}

// |got - want| <= tol * (1 + |want|) everywhere; reports the worst element.
inline void expect_close(const std::vector<double>& got, const std::vector<double>& want, DType dtype,
                         const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  const double tol = tolerance(dtype);
  std::size_t worst = 0;
  double worst_excess = -1.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double excess = std::abs(got[i] - want[i]) - tol * (1.0 + std::abs(want[i]));
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  if (!got.empty()) {
    EXPECT_LE(worst_excess, 0.0) << what << ": element " << worst << " is " << got[worst] << ", want " << want[worst]
                                 << " (dtype " << dtype_name(dtype) << ")";
  }
}

inline std::vector<double> slice(const std::vector<double>& v, std::size_t begin, std::size_t n) {
  return std::vector<double>(v.begin() + static_cast<std::ptrdiff_t>(begin),
                             v.begin() + static_cast<std::ptrdiff_t>(begin + n));
}

}  // namespace pouch::test
