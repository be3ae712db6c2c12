// make_backend: the one place that knows which backends this build has. Every
// #ifdef POUCH_CUDA of runtime/ belongs here and nowhere else: one registry
// file per layer (house.device_guards, tests/house/check_device_guards.py).
#include <memory>

#include "runtime/backend.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/error.h"
#include "runtime/sim/sim_backend.h"

namespace pouch {

namespace {
constexpr const char* kCudaNotBuilt =
    "this pouch was built without the CUDA backend; rebuild on a machine with the CUDA toolkit (nvcc) and "
    "-DPOUCH_CUDA=ON, or run on the CPU";
}  // namespace

CudaAvailability cuda_availability() { return {false, 0, kCudaNotBuilt}; }

std::unique_ptr<Backend> make_backend(Device device, int /*local_rank*/) {
  switch (device) {
    case Device::CPU:
      return std::make_unique<CpuBackend>();
    case Device::CUDA:
      throw Error(kCudaNotBuilt);
    case Device::Sim:
      return std::make_unique<SimBackend>();
  }
  throw Error("make_backend: unknown device");
}

}  // namespace pouch
