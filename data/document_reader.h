#pragma once
// Reads the documents of one input of `pouch data prepare`:
//  - a file whose name ends in ".jsonl": one JSON object per non-blank line,
//    {"text": string (required), "quality": number 0..10, "level": integer
//    >= 0, "source": string}; other fields are ignored;
//  - any other file is plain text: documents are separated by one or more
//    blank (empty or whitespace-only) lines, lines of a document keep their
//    '\n' between them (TextSplit::BlankLine); or the whole file is one
//    document (TextSplit::File).
// Missing quality/level/source default to DocumentDefaults and the file's
// stem (name without directory and extension). Empty documents are skipped.
#include <cstdint>
#include <functional>
#include <string>

#include "data/sample_meta.h"

namespace pouch {

enum class TextSplit { BlankLine, File };

struct DocumentDefaults {
  TextSplit text_split = TextSplit::BlankLine;
  float quality = 5.0f;
  std::int32_t level = 0;
};

struct Document {
  std::string text;
  SampleMeta meta;     // quality, level, source (offset/length unset)
  std::string origin;  // "path:line" of the document's first line
};

// Calls fn for every non-empty document of `path`, in file order. Bad input
// throws pouch::Error naming path:line.
void for_each_document(const std::string& path, const DocumentDefaults& defaults,
                       const std::function<void(Document&&)>& fn);

}  // namespace pouch
