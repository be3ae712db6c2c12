#pragma once
// Splits text into the chunks that BPE merges never cross. Roughly GPT-2's
// pattern (Radford et al. 2019, openai/gpt-2 encoder.py):
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// on bytes: ASCII letters and every byte >= 0x80 count as letters (so UTF-8
// words stay whole), ASCII digits as numbers, " \t\n\r\v\f" as whitespace. A
// whitespace run followed by a non-space gives its last ' ' to the next
// chunk. The chunks concatenate back to the text exactly.
#include <string_view>
#include <vector>

namespace pouch {

std::vector<std::string_view> pretokenize(std::string_view text);

}  // namespace pouch
