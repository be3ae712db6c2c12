#pragma once
// GPT-2's published vocabulary files, read into token bytes by id.
//   encoder.json + vocab.bpe   (openai/gpt-2's download)
//   vocab.json + merges.txt    (Hugging Face's copy of the same)
// The JSON maps each token, spelled with GPT-2's byte-to-unicode alphabet, to
// its id; the merges file lists the merges in rank order ("#version" line
// first). As tiktoken requires, the ids must be the ranks: the 256 one-byte
// tokens take ids 0..255, merge i makes id 256 + i, and "<|endoftext|>" is the
// last id, 256 + merges; anything else is an error naming the file and entry.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pouch {

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the
// other 68 bytes to U+0100.. in byte order, so every token is printable.
char32_t gpt2_byte_to_unicode(unsigned char byte);
// The bytes a token string spells; `what` names it in errors.
std::string gpt2_token_bytes(std::string_view unicode_text, const std::string& what);
std::string gpt2_token_text(std::string_view bytes);

struct Gpt2Vocabulary {
  std::vector<std::string> tokens;  // bytes of ids 0 .. eot_id - 1
  std::int32_t eot_id = 0;
  std::string source;  // e.g. "<dir>/encoder.json + <dir>/vocab.bpe"
};

// Reads DIR's encoder.json + vocab.bpe, else vocab.json + merges.txt.
Gpt2Vocabulary read_gpt2_vocabulary(const std::string& dir);
Gpt2Vocabulary read_gpt2_vocabulary(const std::string& json_path, const std::string& merges_path);

}  // namespace pouch
