#include "data/gpt2_pretokenize.h"

namespace pouch {

std::vector<std::string_view> gpt2_pretokenize(std::string_view text) {
  std::vector<std::string_view> chunks;
  gpt2_for_each_chunk(text, [&](std::string_view chunk) { chunks.push_back(chunk); });
  return chunks;
}

}  // namespace pouch
