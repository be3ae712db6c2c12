#pragma once
// One file of a watched directory (data/watched_directory.h), read whole and
// turned into tokens before any of it is learned, so a malformed file is
// skipped entirely, never half-learned.
//
// By extension:
//   .jsonl  JSON lines, {"text": ...} per line (data/document_reader.h)
//   .bin    a token shard in llm.c's format (data/token_shard.h), taken as is
//   other   plain text, documents separated by blank lines
// Text documents are encoded with the run's tokenizer, with its end-of-text
// token between documents exactly as `pouch data prepare` places it
// (eot_before_documents, data/tokenizer.h), so a file learned here and the
// same file prepared into shards give the same token stream.
#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace pouch {

struct WatchedFile {
  std::string name;        // within the watched directory
  std::uint64_t hash = 0;  // FNV-1a 64 of the file's bytes (data/stable_hash.h)
  std::int64_t bytes = 0;
  std::int64_t documents = 0;        // text: documents; shard: 1
  std::vector<std::int32_t> tokens;  // empty when `error` is set
  std::string error;                 // why the file is skipped; empty = usable
};

// Never throws for the file's content: a malformed file, a token outside
// [0, vocab_size), or a file with no tokens comes back with `error` set.
WatchedFile read_watched_file(const std::string& dir, const std::string& name, const Tokenizer& tokenizer,
                              std::int64_t vocab_size);

}  // namespace pouch
