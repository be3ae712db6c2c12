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

enum class Device : std::uint8_t { CPU, CUDA };

}  // namespace pouch
