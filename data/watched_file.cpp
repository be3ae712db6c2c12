#include "data/watched_file.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "data/document_reader.h"
#include "data/stable_hash.h"
#include "data/token_shard.h"
#include "runtime/error.h"

namespace pouch {

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open: {}", std::strerror(errno));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void read_text(const std::string& path, const Tokenizer& tokenizer, WatchedFile& f) {
  const std::unique_ptr<TextEncoder> encoder = tokenizer.make_encoder();
  const bool eot_first = eot_before_documents(tokenizer);
  for_each_document(path, DocumentDefaults{}, [&](Document&& doc) {
    if (eot_first) f.tokens.push_back(tokenizer.eot_id());
    try {
      encoder->encode_append(doc.text, f.tokens);
    } catch (const Error& e) {
      fail("{}: {}", doc.origin, e.what());
    }
    if (!eot_first) f.tokens.push_back(tokenizer.eot_id());
    ++f.documents;
  });
}

}  // namespace

WatchedFile read_watched_file(const std::string& dir, const std::string& name, const Tokenizer& tokenizer,
                              std::int64_t vocab_size) {
  WatchedFile f;
  f.name = name;
  const std::string path = (std::filesystem::path(dir) / name).string();
  try {
    const std::string bytes = read_bytes(path);
    f.bytes = static_cast<std::int64_t>(bytes.size());
    f.hash = fnv1a64(bytes);
    if (name.ends_with(".bin")) {
      const TokenShard shard(path);
      f.tokens = shard.read(0, shard.size());
      f.documents = 1;
    } else {
      read_text(path, tokenizer, f);
    }
    if (f.tokens.empty()) fail("no tokens (an empty file, or no non-blank document)");
    for (std::size_t i = 0; i < f.tokens.size(); ++i)
      if (f.tokens[i] < 0 || f.tokens[i] >= vocab_size)
        fail("token {} at position {} is outside the model's vocabulary of {}", f.tokens[i], i, vocab_size);
  } catch (const Error& e) {
    f.tokens.clear();
    f.tokens.shrink_to_fit();
    f.error = e.what();
  }
  return f;
}

}  // namespace pouch
