// Tensor's device tag: host accessors and host-side operations refuse a
// device tensor with a message that names the fix; adopt() keeps the
// backend's storage alive; the 16-bit float storage types.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/tensor.h"
#include "tests/support/error_of.h"

namespace pouch {
namespace {

// Host memory tagged as the simulated device: what a sim backend hands out.
struct SimTensor {
  std::vector<float> memory = std::vector<float>(12, 1.0f);
  Tensor t = Tensor::wrap(memory.data(), {3, 4}, DType::F32, Device::Sim);
};

TEST(TensorDevice, HostAccessorsRefuseASimTensorAndNameBackendCopy) {
  SimTensor s;
  Tensor host = Tensor::zeros({3, 4});
  const std::vector<std::pair<const char*, std::function<void()>>> calls = {
      {"f32()", [&] { (void)s.t.f32(); }},
      {"data()", [&] { (void)s.t.data<float>(); }},
      {"zero_()", [&] { s.t.zero_(); }},
      {"fill_()", [&] { s.t.fill_(2.0f); }},
      {"clone()", [&] { (void)s.t.clone(); }},
      {"copy_from()", [&] { s.t.copy_from(host); }},
      {"copy_from() source", [&] { host.copy_from(s.t); }},
  };
  for (const auto& [op, call] : calls) {
    const std::string msg = error_of(call);
    EXPECT_NE(msg.find(std::string("Tensor::") + op), std::string::npos) << msg;
    EXPECT_NE(msg.find("device sim"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Backend::copy"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[3, 4]"), std::string::npos) << msg;
  }
  // Nothing was written through the refused calls.
  for (float v : s.memory) EXPECT_EQ(v, 1.0f);
  for (std::int64_t i = 0; i < host.numel(); ++i) EXPECT_EQ(host.f32()[i], 0.0f);
}

TEST(TensorDevice, I32AccessorRefusesACudaTaggedTensor) {
  std::vector<std::int32_t> memory(5);
  Tensor t = Tensor::wrap(memory.data(), {5}, DType::I32, Device::CUDA);
  const std::string msg = error_of([&] { (void)t.i32(); });
  EXPECT_NE(msg.find("device cuda"), std::string::npos) << msg;
}

TEST(TensorDevice, ViewsKeepTheDeviceAndRawStaysUnchecked) {
  SimTensor s;
  const Tensor row = s.t[1];
  EXPECT_EQ(row.device(), Device::Sim);
  EXPECT_FALSE(row.on_host());
  EXPECT_EQ(row.raw(), s.memory.data() + 4);
  EXPECT_THROW((void)row.f32(), Error);
  EXPECT_EQ(s.t.reshape({12}).device(), Device::Sim);
}

TEST(TensorDevice, HostTensorsStillWork) {
  Tensor t = Tensor::empty({7});
  t.fill_(3.0f);
  EXPECT_TRUE(t.on_host());
  Tensor c = t.clone();
  EXPECT_EQ(c.f32()[6], 3.0f);
  EXPECT_NE(c.raw(), t.raw());
}

TEST(TensorDevice, AdoptKeepsTheStorageAliveAndFreesItWithTheLastReference) {
  bool freed = false;
  auto* block = new float[16];
  std::shared_ptr<void> storage(block, [&freed](void* p) {
    delete[] static_cast<float*>(p);
    freed = true;
  });
  std::weak_ptr<void> watch = storage;
  // The tensor starts inside the block, as a pooled allocation would.
  Tensor t = Tensor::adopt(std::move(storage), block + 4, {2, 3}, DType::F32, Device::Sim);
  EXPECT_EQ(t.raw(), block + 4);
  EXPECT_EQ(t.device(), Device::Sim);
  EXPECT_EQ(t.numel(), 6);
  EXPECT_FALSE(watch.expired());
  Tensor v = t.view(3, {3});
  t = Tensor();
  EXPECT_FALSE(freed) << "a view must keep adopted storage alive";
  EXPECT_EQ(v.raw(), block + 7);
  v = Tensor();
  EXPECT_TRUE(freed);
  EXPECT_TRUE(watch.expired());
}

TEST(TensorDevice, SixteenBitFloatStorageTypes) {
  static_assert(dtype_of<bf16>() == DType::BF16);
  static_assert(dtype_of<f16>() == DType::F16);
  static_assert(dtype_of<std::uint16_t>() == DType::U16);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::F16), 2u);
  EXPECT_EQ(dtype_name(DType::BF16), "bf16");
  EXPECT_EQ(dtype_name(DType::F16), "f16");
  Tensor t = Tensor::zeros({5}, DType::BF16);
  EXPECT_EQ(t.nbytes(), 10u);
  t.data<bf16>()[4].bits = 0x3f80;  // 1.0 in bfloat16
  EXPECT_EQ(static_cast<const std::uint16_t*>(t.raw())[4], 0x3f80);
  EXPECT_EQ(Tensor::zeros({3}, DType::F16).data<f16>()[2].bits, 0);
}

TEST(TensorDevice, DeviceNames) {
  EXPECT_EQ(device_name(Device::CPU), "cpu");
  EXPECT_EQ(device_name(Device::CUDA), "cuda");
  EXPECT_EQ(device_name(Device::Sim), "sim");
}

}  // namespace
}  // namespace pouch
