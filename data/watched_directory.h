#pragma once
// Which files of a watched directory are complete, for a continual phase
// that learns from new files while it runs (phases/continual/watched_stream.h).
//
// A writer must never let the learner see half a file. Two protocols:
//   rename  a file counts as soon as its name appears: write it elsewhere
//           (another directory on the same filesystem, or a name starting
//           with '.' in this one) and rename(2) it in, which is atomic;
//   done    a file NAME counts only once NAME.done exists beside it (write
//           NAME in place, then create the empty marker).
// Under both, names starting with '.' and names ending in .tmp, .part,
// .partial or .done are never data, and only regular files count
// (symlinks to them too). What a name holds is decided by its extension:
// .jsonl JSON lines, .bin a token shard, anything else plain text
// (data/watched_file.h).
#include <set>
#include <string>
#include <vector>

namespace pouch {

enum class WatchProtocol { Rename, Done };

// "rename" | "done"; anything else throws pouch::Error naming `key`.
WatchProtocol parse_watch_protocol(const std::string& text, const std::string& key);

// The complete files of `dir` under `protocol` whose names are not in
// `known`, sorted by name (byte order), so that files that arrive together
// are learned in a stable order. A missing or unreadable `dir` throws
// pouch::Error naming it.
std::vector<std::string> list_complete_files(const std::string& dir, WatchProtocol protocol,
                                             const std::set<std::string>& known);

}  // namespace pouch
