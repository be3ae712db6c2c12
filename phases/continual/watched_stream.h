#pragma once
// The token stream of a continual phase that learns from a watched
// directory (`[phase.N] watch_dir`): every complete file (data/watched_directory.h)
// is read once, in the order files become complete (by name among those
// found together), turned into tokens (data/watched_file.h) and appended;
// training takes whole windows off the front.
//
//   stream  = tokens of learned files, in ledger order
//   window k of what is pending: inputs p[kT, kT + T), targets p[kT + 1, kT + T + 1)
//   consume(n) drops the first n·T tokens (a window's last target is the next
//   window's first input, as in data/sequence_loader.h), so every token is
//   a target exactly once; fewer than T + 1 pending tokens wait for more.
//
// The ledger lists every file seen, learned or skipped (with the reason), by
// name and FNV-1a 64 content hash; a name in the ledger is never read again,
// so a file is consumed exactly once, also across a resume.
//
// Ranks: poll() is collective over the world. Rank 0 alone lists the
// directory and reads the new files, then broadcasts the entries and their
// tokens (phases/schedule/world_agreement.h), so every rank holds the same
// stream without needing the directory on a shared filesystem, and takes
// the same branch. Data-parallel ranks pick their rows of the same windows.
//
// Checkpoint (save/restore): /meta continual_watch_ledger (JSON array of
// {name, hash (16 hex digits), bytes, documents, tokens, error}),
// /data continual_watch_pending (the tokens not yet consumed) and
// continual_watch_counts = {windows consumed, tokens received}. A resume
// needs nothing from the directory that it had consumed.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "checkpoint/training_checkpoint.h"
#include "data/tokenizer.h"
#include "data/watched_directory.h"
#include "phases/schedule/train_ranks.h"
#include "runtime/backend.h"

namespace pouch {

struct WatchLedgerEntry {
  std::string name;
  std::uint64_t hash = 0;
  std::int64_t bytes = 0;
  std::int64_t documents = 0;
  std::int64_t tokens = 0;  // appended to the stream; 0 when skipped
  std::string error;        // why it was skipped; empty = learned
};

// What one poll found.
struct WatchPoll {
  std::vector<WatchLedgerEntry> added;  // new ledger entries, in order
  // Rank 0's seconds for which the stream has been short (fewer windows
  // ready than the poll wants) with no new file arriving; 0 when not short.
  double idle_s = 0.0;
};

class WatchedStream {
 public:
  // `tokenizer` must outlive the stream.
  WatchedStream(std::string dir, WatchProtocol protocol, std::int64_t seq_len, const Tokenizer& tokenizer,
                std::int64_t vocab_size);

  // Collective over the world (see above); `windows_wanted`: what the caller
  // needs now (for WatchPoll::idle_s). A directory that cannot be listed is
  // an error on every rank.
  WatchPoll poll(const TrainRanks& ranks, Backend& be, std::int64_t windows_wanted);

  std::int64_t seq_len() const { return seq_len_; }
  // Whole windows pending.
  std::int64_t windows_ready() const;
  // Window k < windows_ready() into inputs[T], targets[T].
  void window(std::int64_t k, std::int32_t* inputs, std::int32_t* targets) const;
  void consume(std::int64_t windows);

  const std::vector<WatchLedgerEntry>& ledger() const { return ledger_; }
  std::int64_t windows_consumed() const { return windows_consumed_; }
  std::int64_t tokens_received() const { return tokens_received_; }
  std::int64_t pending_tokens() const { return static_cast<std::int64_t>(pending_.size()); }
  std::int64_t files_learned() const;
  std::int64_t files_skipped() const;

  void save(CheckpointState& state) const;
  // From a checkpoint's rows (read_checkpoint_rows); `file` names it in errors.
  void restore(const CheckpointState& rows, const std::string& file);

 private:
  void append(WatchLedgerEntry entry, const std::vector<std::int32_t>& tokens);
  std::int64_t windows_ready_with(std::int64_t more_tokens) const;

  std::string dir_;
  WatchProtocol protocol_;
  std::int64_t seq_len_;
  const Tokenizer& tokenizer_;
  std::int64_t vocab_size_;
  std::vector<WatchLedgerEntry> ledger_;
  std::set<std::string> known_;
  std::vector<std::int32_t> pending_;
  std::int64_t windows_consumed_ = 0;
  std::int64_t tokens_received_ = 0;
  double idle_since_ = -1.0;  // rank 0's steady clock (s) when the stream went short; < 0: not short
};

// "a.jsonl (12 documents, 3,456 tokens)" or "bad.jsonl skipped: <why>".
std::string describe(const WatchLedgerEntry& e);

}  // namespace pouch
