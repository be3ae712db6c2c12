#pragma once
// The safetensors format (Hugging Face): an 8-byte little-endian header
// length N, N bytes of JSON
//   {"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"<key>": "<string>", ...}}
// then the tensors' bytes, little-endian, C order, at [begin, end) relative
// to the end of the header. The header is padded with spaces to a multiple
// of 8 bytes so every tensor is aligned.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "runtime/tensor.h"

namespace pouch {

// Writes f32 tensors (atomically: path.tmp, fsync, rename).
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace pouch
