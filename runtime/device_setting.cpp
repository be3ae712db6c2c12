#include "runtime/device_setting.h"

#include "runtime/backend.h"
#include "runtime/error.h"

namespace pouch {

bool is_device_setting(std::string_view s) { return s == "auto" || s == "cpu" || s == "sim" || s == "cuda"; }

Device resolve_device(std::string_view setting, std::string_view key) {
  if (!is_device_setting(setting)) fail("{} = {}: expected {}", key, setting, kDeviceSettings);
  if (setting == "cpu") return Device::CPU;
  if (setting == "sim") return Device::Sim;
  const CudaAvailability cuda = cuda_availability();
  if (setting == "cuda") {
    if (!cuda.built) fail("{} = cuda: {}", key, cuda.reason);
    if (cuda.devices == 0) fail("{} = cuda: no CUDA device is visible ({}); set {} = cpu", key, cuda.reason, key);
    return Device::CUDA;
  }
  return cuda.built && cuda.devices > 0 ? Device::CUDA : Device::CPU;
}

}  // namespace pouch
