// make_backend and the CPU backend's allocation helpers; the measured sgemm peak.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/backend.h"
#include "runtime/cpu/sgemm_peak.h"

namespace pouch {
namespace {

TEST(BackendRegistry, CpuBackend) {
  auto be = make_backend(Device::CPU);
  ASSERT_NE(be, nullptr);
  EXPECT_EQ(be->device(), Device::CPU);
  EXPECT_EQ(be->name(), "cpu");
  Tensor z = be->zeros({3, 5});
  EXPECT_EQ(z.shape(), (Shape{3, 5}));
  for (std::int64_t i = 0; i < z.numel(); ++i) EXPECT_EQ(z.f32()[i], 0.0f);
  Tensor ids = be->empty({4}, DType::I32);
  EXPECT_EQ(ids.dtype(), DType::I32);
  EXPECT_EQ(ids.device(), Device::CPU);
}

TEST(BackendRegistry, CudaWithoutCudaBuildIsAUserError) {
  try {
    make_backend(Device::CUDA);
    FAIL() << "expected pouch::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("built without the CUDA backend"), std::string::npos) << e.what();
  }
}

TEST(SgemmPeak, MeasuresAPositiveRate) {
  const double gflops = cpu::measure_sgemm_gflops(96, 0.02);
  EXPECT_TRUE(std::isfinite(gflops));
  EXPECT_GT(gflops, 0.1);
}

}  // namespace
}  // namespace pouch
