#include "checkpoint/weights_source.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "checkpoint/llmc_model_file.h"

namespace pouch {

namespace {

// HDF5's superblock signature; pouch's writers put it at offset 0 (HDF5 also
// allows it at 512, 1024, ... after a user block, so its absence at 0 alone
// does not rule HDF5 out).
bool starts_as_hdf5(const std::string& path) {
  static constexpr char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  std::ifstream in(path, std::ios::binary);
  char head[8] = {};
  in.read(head, 8);
  return in && std::memcmp(head, kSignature, 8) == 0;
}

}  // namespace

WeightsFile load_weights_any_format(const std::string& path) {
  if (is_llmc_model_file(path)) return read_llmc_model(path);
  try {
    return load_weights(path);
  } catch (const Error& e) {
    if (!std::filesystem::is_regular_file(path) || starts_as_hdf5(path)) throw;
    fail(
        "{}: not a weights file pouch reads, neither HDF5 (a pouch weights file or checkpoint) nor llm.c's model "
        "file (whose first int32 is {}); give one of those. (HDF5 said: {})",
        path, kLlmcModelMagic, e.what());
  }
}

}  // namespace pouch
