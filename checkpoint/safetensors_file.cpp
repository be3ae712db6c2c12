#include "checkpoint/safetensors_file.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoint/atomic_file.h"

namespace pouch {

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (t.dtype() != DType::F32)
      fail("safetensors export: {} is {}, only f32 is exported", name, dtype_name(t.dtype()));
    header[name] = {{"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot create {}: {}", tmp, std::strerror(errno));
    const std::uint64_t n = text.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    // The host is little-endian (x86-64, aarch64), as the format requires.
    for (const auto& [name, t] : tensors)
      out.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
    out.flush();
    if (!out) fail("writing {} failed: {}", tmp, std::strerror(errno));
  }
  publish(tmp, path);
}

}  // namespace pouch
