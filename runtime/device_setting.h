#pragma once
// The device a run asks for ([runtime] device, --device): auto | cpu | sim |
// cuda. auto means cuda when this build has the CUDA backend and a device is
// visible, else cpu; the sim device is never chosen by auto.
#include <string>
#include <string_view>

#include "runtime/dtype.h"

namespace pouch {

inline constexpr std::string_view kDeviceSettings = "auto, cpu, sim or cuda";

bool is_device_setting(std::string_view setting);
// The device `setting` means on this build and machine. Throws pouch::Error,
// naming `key` (the config key or option that holds the setting), for an
// unknown value or for cuda on a build without the CUDA backend.
Device resolve_device(std::string_view setting, std::string_view key);

}  // namespace pouch
