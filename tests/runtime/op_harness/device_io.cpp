#include "tests/runtime/op_harness/device_io.h"

#include <cstring>
#include <limits>

namespace pouch::op_harness {

std::vector<float> Rng::uniform(i64 n, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = dist(gen_);
  return v;
}

std::vector<std::int32_t> Rng::ints(i64 n, std::int32_t lo, std::int32_t hi) {
  std::uniform_int_distribution<std::int32_t> dist(lo, hi);
  std::vector<std::int32_t> v(static_cast<std::size_t>(n));
  for (std::int32_t& x : v) x = dist(gen_);
  return v;
}

Vec to_vec(const std::vector<float>& v) { return Vec(v.begin(), v.end()); }

std::vector<float> to_floats(const Vec& v) {
  std::vector<float> f(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) f[i] = static_cast<float>(v[i]);
  return f;
}

Tensor upload_host(Backend& be, const Tensor& host) {
  Tensor t = be.empty(host.shape(), host.dtype());
  be.copy(t, host);
  return t;
}

Tensor upload(Backend& be, const std::vector<float>& v, Shape shape) {
  Tensor host = Tensor::empty(std::move(shape));
  POUCH_CHECK(static_cast<std::size_t>(host.numel()) == v.size(), "upload: {} values for shape {}", v.size(),
              shape_str(host.shape()));
  if (!v.empty()) std::memcpy(host.f32(), v.data(), v.size() * sizeof(float));
  return upload_host(be, host);
}

Tensor upload_ids(Backend& be, const std::vector<std::int32_t>& ids, Shape shape) {
  Tensor host = Tensor::empty(std::move(shape), DType::I32);
  POUCH_CHECK(static_cast<std::size_t>(host.numel()) == ids.size(), "upload_ids: {} ids for shape {}", ids.size(),
              shape_str(host.shape()));
  if (!ids.empty()) std::memcpy(host.i32(), ids.data(), ids.size() * sizeof(std::int32_t));
  return upload_host(be, host);
}

Tensor poisoned(Backend& be, Shape shape, DType dtype) {
  Tensor t = be.empty(std::move(shape), dtype);
  be.fill(t, std::numeric_limits<float>::quiet_NaN());
  return t;
}

Vec download(Backend& be, const Tensor& t) {
  Tensor host = be.empty_host(t.shape(), t.dtype());
  be.copy(host, t);
  be.synchronize();
  return host_values(host);
}

Tensor random_host(DType dtype, Shape shape, Rng& rng) {
  Tensor t = Tensor::empty(std::move(shape), dtype);
  const i64 n = t.numel();
  switch (dtype) {
    case DType::F32: {
      const std::vector<float> v = rng.uniform(n);
      if (n > 0) std::memcpy(t.f32(), v.data(), v.size() * sizeof(float));
      break;
    }
    case DType::F64: {
      std::uniform_real_distribution<double> dist(-1.0, 1.0);
      for (i64 i = 0; i < n; ++i) t.data<double>()[i] = dist(rng.engine());
      break;
    }
    case DType::I32: {
      const std::vector<std::int32_t> v =
          rng.ints(n, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max());
      if (n > 0) std::memcpy(t.i32(), v.data(), v.size() * sizeof(std::int32_t));
      break;
    }
    case DType::I8:
      for (i64 i = 0; i < n; ++i) t.data<std::int8_t>()[i] = static_cast<std::int8_t>(rng.ints(1, -128, 127)[0]);
      break;
    case DType::BF16:
    case DType::F16:
    case DType::U16: {
      auto* p = static_cast<std::uint16_t*>(t.raw());
      for (i64 i = 0; i < n; ++i) p[i] = static_cast<std::uint16_t>(rng.ints(1, 0, 0xffff)[0]);
      break;
    }
  }
  return t;
}

Vec host_values(const Tensor& host) {
  const i64 n = host.numel();
  Vec v(static_cast<std::size_t>(n));
  for (i64 i = 0; i < n; ++i) {
    switch (host.dtype()) {
      case DType::F32:
        v[i] = host.f32()[i];
        break;
      case DType::F64:
        v[i] = host.data<double>()[i];
        break;
      case DType::I32:
        v[i] = host.i32()[i];
        break;
      case DType::I8:
        v[i] = host.data<std::int8_t>()[i];
        break;
      case DType::BF16:
      case DType::F16:
      case DType::U16:
        v[i] = static_cast<const std::uint16_t*>(host.raw())[i];
        break;
    }
  }
  return v;
}

}  // namespace pouch::op_harness
