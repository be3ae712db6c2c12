// The memory and ordering calls: empty, zeros, empty_host, fill, copy,
// copy_2d, clone over every dtype, and record_event / wait_event /
// synchronize / elapsed_s / host_syncs. They move bits, so they compare
// exactly; tensors live on the host (pageable or from empty_host) or on the
// backend's device in every pairing the contract allows.
#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "tests/runtime/op_harness/case_helpers.h"

namespace pouch::op_harness {
namespace {

constexpr DType kAllDtypes[] = {DType::F32, DType::BF16, DType::F16, DType::I8, DType::I32, DType::U16, DType::F64};

enum class Where { Pageable, Pinned, Device };

const char* where_name(Where w) {
  switch (w) {
    case Where::Pageable:
      return "pageable host";
    case Where::Pinned:
      return "empty_host";
    case Where::Device:
      return "device";
  }
  return "?";
}

// A copy of `host` in the memory `w` names.
Tensor place(Backend& be, Where w, const Tensor& host) {
  switch (w) {
    case Where::Pageable:
      return host.clone();
    case Where::Pinned: {
      Tensor t = be.empty_host(host.shape(), host.dtype());
      t.copy_from(host);
      return t;
    }
    case Where::Device:
      return upload_host(be, host);
  }
  return {};
}

// t's values once everything queued has run, wherever it lives.
Vec read_back(Backend& be, const Tensor& t) {
  be.synchronize();
  return t.on_host() ? host_values(t) : download(be, t);
}

// [dims..., dtype, 1 if on `device`]: what a memory call promised about its tensor.
Vec describe(const Tensor& t, Device device) {
  Vec d(t.shape().begin(), t.shape().end());
  d.push_back(static_cast<double>(t.dtype()));
  d.push_back(t.device() == device ? 1.0 : 0.0);
  return d;
}

std::string dt(DType d) { return std::string(dtype_name(d)); }

void add_allocation(std::vector<OpCase>& cases, DType dtype) {
  const Shape shape{7, 63};
  cases.push_back(
      {"empty", dt(dtype) + " [7, 63]", Precision::Exact, [=](std::uint32_t) {
         Problem p;
         p.run = [=](Backend& be) { return Outputs{{"tensor", describe(be.empty(shape, dtype), be.device())}}; };
         p.reference = [=] { return Outputs{{"tensor", describe(Tensor::empty(shape, dtype), Device::CPU)}}; };
         return p;
       }});
  cases.push_back(
      {"empty_host", dt(dtype) + " [7, 63]", Precision::Exact, [=](std::uint32_t) {
         Problem p;
         p.run = [=](Backend& be) { return Outputs{{"tensor", describe(be.empty_host(shape, dtype), Device::CPU)}}; };
         p.reference = [=] { return Outputs{{"tensor", describe(Tensor::empty(shape, dtype), Device::CPU)}}; };
         return p;
       }});
  cases.push_back(
      {"zeros", dt(dtype) + " [7, 63]", Precision::Exact, [=](std::uint32_t) {
         Problem p;
         p.run = [=](Backend& be) {
           Tensor z = be.zeros(shape, dtype);
           return Outputs{{"tensor", describe(z, be.device())}, {"values", read_back(be, z)}};
         };
         p.reference = [=] {
           return Outputs{{"tensor", describe(Tensor::empty(shape, dtype), Device::CPU)}, {"values", Vec(7 * 63, 0.0)}};
         };
         return p;
       }});
}

// The tensor starts with random bits, so a fill that skips elements shows.
void add_fill(std::vector<OpCase>& cases, DType dtype, i64 n, float value) {
  cases.push_back(
      {"fill", fmt::format("{} n={} value={}", dt(dtype), n, value), Precision::Exact, [=](std::uint32_t seed) {
         Rng rng(seed);
         auto before = share(random_host(dtype, {n}, rng));
         Problem p;
         p.run = [=](Backend& be) {
           Tensor t = upload_host(be, *before);
           be.fill(t, value);
           return Outputs{{"t", read_back(be, t)}};
         };
         // +0 is all bits zero in every dtype: the bit patterns of the 16-bit types read back as 0.
         p.reference = [=] { return Outputs{{"t", Vec(static_cast<std::size_t>(n), value)}}; };
         return p;
       }});
}

void add_copy(std::vector<OpCase>& cases, DType dtype, Shape dst_shape, Shape src_shape, Where dst_at, Where src_at) {
  const std::string variant = fmt::format("{} {} {} <- {} {}", dt(dtype), where_name(dst_at), shape_str(dst_shape),
                                          where_name(src_at), shape_str(src_shape));
  cases.push_back({"copy", variant, Precision::Exact, [=](std::uint32_t seed) {
                     struct In {
                       Tensor dst0, src;
                     };
                     Rng rng(seed);
                     auto in = share(In{random_host(dtype, dst_shape, rng), random_host(dtype, src_shape, rng)});
                     Problem p;
                     p.run = [=](Backend& be) {
                       Tensor dst = place(be, dst_at, in->dst0), src = place(be, src_at, in->src);
                       be.copy(dst, src);
                       return Outputs{{"dst", read_back(be, dst)}};
                     };
                     p.reference = [=] { return Outputs{{"dst", host_values(in->src)}}; };
                     return p;
                   }});
}

// copy(t, t): the same memory, which the contract makes a no-op.
void add_copy_onto_itself(std::vector<OpCase>& cases, DType dtype, i64 n) {
  cases.push_back(
      {"copy", fmt::format("{} device [{}] onto itself", dt(dtype), n), Precision::Exact, [=](std::uint32_t seed) {
         Rng rng(seed);
         auto host = share(random_host(dtype, {n}, rng));
         Problem p;
         p.run = [=](Backend& be) {
           Tensor t = upload_host(be, *host);
           be.copy(t, t);
           return Outputs{{"t", read_back(be, t)}};
         };
         p.reference = [=] { return Outputs{{"t", host_values(*host)}}; };
         return p;
       }});
}

struct Strided {
  i64 rows, row_elems, dst_stride, src_stride;
};

// dst and src are 3 elements longer than the rows reach, and dst starts
// random: the elements between and after the rows must keep their values.
void add_copy_2d(std::vector<OpCase>& cases, DType dtype, Strided s, Where dst_at, Where src_at) {
  const std::string variant =
      fmt::format("{} {} rows of {}, {} stride {} <- {} stride {}", dt(dtype), s.rows, s.row_elems, where_name(dst_at),
                  s.dst_stride, where_name(src_at), s.src_stride);
  cases.push_back({"copy_2d", variant, Precision::Exact, [=](std::uint32_t seed) {
                     struct In {
                       Tensor dst0, src;
                     };
                     Rng rng(seed);
                     const i64 dst_n = (s.rows - 1) * s.dst_stride + s.row_elems + 3;
                     const i64 src_n = (s.rows - 1) * s.src_stride + s.row_elems + 3;
                     auto in = share(In{random_host(dtype, {dst_n}, rng), random_host(dtype, {src_n}, rng)});
                     Problem p;
                     p.run = [=](Backend& be) {
                       Tensor dst = place(be, dst_at, in->dst0), src = place(be, src_at, in->src);
                       be.copy_2d(dst, s.dst_stride, src, s.src_stride, s.rows, s.row_elems);
                       return Outputs{{"dst", read_back(be, dst)}};
                     };
                     p.reference = [=] {
                       Vec dst = host_values(in->dst0);
                       const Vec src = host_values(in->src);
                       for (i64 r = 0; r < s.rows; ++r)
                         for (i64 e = 0; e < s.row_elems; ++e) dst[r * s.dst_stride + e] = src[r * s.src_stride + e];
                       return Outputs{{"dst", dst}};
                     };
                     return p;
                   }});
}

void add_clone(std::vector<OpCase>& cases, DType dtype, Where src_at) {
  cases.push_back({"clone", fmt::format("{} [63, 7] from {}", dt(dtype), where_name(src_at)), Precision::Exact,
                   [=](std::uint32_t seed) {
                     Rng rng(seed);
                     auto host = share(random_host(dtype, {63, 7}, rng));
                     Problem p;
                     p.run = [=](Backend& be) {
                       Tensor src = place(be, src_at, *host);
                       Tensor c = be.clone(src);
                       return Outputs{{"tensor", describe(c, be.device())}, {"values", read_back(be, c)}};
                     };
                     p.reference = [=] {
                       return Outputs{{"tensor", describe(*host, Device::CPU)}, {"values", host_values(*host)}};
                     };
                     return p;
                   }});
}

// Two events around a scale, a wait, then the two kinds of blocking wait,
// each of which the contract counts as one host sync; nothing else here blocks.
// The scales are powers of two, so x comes out exact.
void add_events(std::vector<OpCase>& cases) {
  cases.push_back(
      {"events", "record_event, wait_event, synchronize, DeviceEvent::synchronize, elapsed_s, host_syncs",
       Precision::Exact, [](std::uint32_t seed) {
         Rng rng(seed);
         auto x = share(rng.uniform(1023));
         Problem p;
         p.run = [=](Backend& be) {
           Tensor t = upload(be, *x, {1023});
           const std::int64_t syncs0 = be.host_syncs();
           auto start = be.record_event();
           be.scale(t, 2.0f);
           auto end = be.record_event();
           be.wait_event(*end);
           be.scale(t, 4.0f);
           be.synchronize();
           const std::int64_t syncs1 = be.host_syncs();
           end->synchronize();
           const std::int64_t syncs2 = be.host_syncs();
           const double dt = be.elapsed_s(*start, *end);
           const Vec flags{double(syncs1 - syncs0), double(syncs2 - syncs1), end->query() ? 1.0 : 0.0,
                           std::isfinite(dt) && dt >= 0.0 ? 1.0 : 0.0};
           return Outputs{{"syncs(synchronize), syncs(event), query, elapsed >= 0", flags}, {"x", download(be, t)}};
         };
         p.reference = [=] {
           Vec out = to_vec(*x);
           for (double& v : out) v *= 8.0;
           return Outputs{{"syncs(synchronize), syncs(event), query, elapsed >= 0", {1, 1, 1, 1}}, {"x", out}};
         };
         return p;
       }});
}

}  // namespace

void add_memory_cases(std::vector<OpCase>& cases) {
  for (DType d : kAllDtypes) add_allocation(cases, d);

  for (DType d : kAllDtypes)
    for (i64 n : {i64{1}, i64{1023}}) add_fill(cases, d, n, 0.0f);
  for (DType d : {DType::F32, DType::F64})
    for (float v : {1.5f, -3.25e7f}) add_fill(cases, d, 1023, v);
  for (float v : {-7.0f, 123456.0f}) add_fill(cases, DType::I32, 63000, v);

  const std::pair<Where, Where> directions[] = {{Where::Device, Where::Pageable},
                                                {Where::Device, Where::Pinned},
                                                {Where::Device, Where::Device},
                                                {Where::Pageable, Where::Device},
                                                {Where::Pinned, Where::Device}};
  for (DType d : kAllDtypes)
    for (auto [dst, src] : directions) add_copy(cases, d, {1023}, {1023}, dst, src);
  add_copy(cases, DType::F32, {63}, {7, 9}, Where::Device, Where::Device);
  add_copy(cases, DType::F32, {1}, {1}, Where::Device, Where::Pageable);
  for (DType d : {DType::F32, DType::BF16, DType::I8}) add_copy_onto_itself(cases, d, 1000);

  for (DType d : kAllDtypes)
    for (auto [dst, src] : directions) add_copy_2d(cases, d, {7, 63, 64, 1000}, dst, src);
  add_copy_2d(cases, DType::F32, {1023, 1, 1, 7}, Where::Device, Where::Device);
  add_copy_2d(cases, DType::F32, {1, 1000, 1000, 1000}, Where::Device, Where::Device);
  add_copy_2d(cases, DType::F64, {63, 7, 7, 7}, Where::Pageable, Where::Device);

  for (DType d : kAllDtypes)
    for (Where w : {Where::Pageable, Where::Device}) add_clone(cases, d, w);

  add_events(cases);
}

}  // namespace pouch::op_harness
