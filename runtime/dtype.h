#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pouch {

// Element types. Only F32 has kernels today; BF16/F16/I8 are here so that
// mixed precision and quantization slot in without changing Tensor.
enum class DType : std::uint8_t { F32, BF16, F16, I8, I32, U16, F64 };

constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32:
      return 4;
    case DType::BF16:
      return 2;
    case DType::F16:
      return 2;
    case DType::I8:
      return 1;
    case DType::I32:
      return 4;
    case DType::U16:
      return 2;
    case DType::F64:
      return 8;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "f32";
    case DType::BF16:
      return "bf16";
    case DType::F16:
      return "f16";
    case DType::I8:
      return "i8";
    case DType::I32:
      return "i32";
    case DType::U16:
      return "u16";
    case DType::F64:
      return "f64";
  }
  return "?";
}

// Storage types of the 16-bit floats: the bits only, no arithmetic, so that
// dtype_of<bf16>() and Tensor::data<bf16>() name the format (a plain
// uint16_t is DType::U16). Conversions live in runtime/precision.h.
struct bf16 {
  std::uint16_t bits;
};
struct f16 {
  std::uint16_t bits;
};
static_assert(sizeof(bf16) == 2 && sizeof(f16) == 2);

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::F32;
}
template <>
constexpr DType dtype_of<std::int32_t>() {
  return DType::I32;
}
template <>
constexpr DType dtype_of<std::int8_t>() {
  return DType::I8;
}
template <>
constexpr DType dtype_of<std::uint16_t>() {
  return DType::U16;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::F64;
}
template <>
constexpr DType dtype_of<bf16>() {
  return DType::BF16;
}
template <>
constexpr DType dtype_of<f16>() {
  return DType::F16;
}

// Where a tensor's memory lives. Sim is host memory that the simulated device
// owns: the host must not read it directly (Tensor's host accessors refuse
// it), exactly as for CUDA memory, so the whole engine can be run against
// device semantics on a machine without a GPU.
enum class Device : std::uint8_t { CPU, CUDA, Sim };

constexpr std::string_view device_name(Device d) {
  switch (d) {
    case Device::CPU:
      return "cpu";
    case Device::CUDA:
      return "cuda";
    case Device::Sim:
      return "sim";
  }
  return "?";
}

}  // namespace pouch
