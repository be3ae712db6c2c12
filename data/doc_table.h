#pragma once
// docs.tsv: one row per document of a prepared data directory, beside its
// shards. Tab-separated, a header row, then in shard order:
//
//   split  shard             offset  length  quality  level  source  origin
//   train  train_000000.bin  0       523     7        0      wiki    a.jsonl:3
//
// offset/length: the document's tokens in that shard (length counts its
// end-of-text token); quality 0..10; level 0 = not graded; origin = input
// file:line where the document starts.
#include <string>
#include <vector>

#include "data/sample_meta.h"

namespace pouch {

struct DocRecord {
  std::string split;  // "train" or "val"
  std::string shard;  // file name inside the data directory
  SampleMeta meta;
  std::string origin;
};

inline constexpr const char* kDocTableHeader = "split\tshard\toffset\tlength\tquality\tlevel\tsource\torigin";

// Writes `path`.tmp, then renames it to `path`.
void write_doc_table(const std::string& path, const std::vector<DocRecord>& docs);
// Malformed rows throw pouch::Error naming path:line.
std::vector<DocRecord> read_doc_table(const std::string& path);

}  // namespace pouch
