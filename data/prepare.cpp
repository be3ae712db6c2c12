#include "data/prepare.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <thread>

#include "data/bpe_trainer.h"
#include "data/doc_table.h"
#include "data/gpt2_tokenizer.h"
#include "data/parallel_encoder.h"
#include "data/progress_bar.h"
#include "data/shard_set_writer.h"
#include "data/stable_hash.h"
#include "data/tokenizer.h"
#include "runtime/error.h"
#include "runtime/log.h"
#include "runtime/rng.h"

namespace pouch {

namespace fs = std::filesystem;

namespace {

// Documents are read and encoded in batches of about this much text, so
// memory stays bounded while every thread gets enough work.
constexpr std::int64_t kBatchBytes = 8 << 20;
constexpr std::size_t kBatchDocs = 16384;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void validate(const PrepareOptions& o) {
  if (o.inputs.empty()) fail("prepare: no --input given");
  if (o.out_dir.empty()) fail("prepare: no --out directory given");
  if (!o.tokenizer_path.empty() && !o.gpt2_files.empty())
    fail("prepare: give either a tokenizer file or --tokenizer gpt2 --gpt2-files DIR, not both");
  if (o.threads < 0) fail("prepare: --threads {} must be >= 0 (0 = all cores)", o.threads);
  if (o.tokenizer_path.empty() && o.gpt2_files.empty() && o.vocab_size < 257)
    fail("prepare: --vocab-size {} is too small: byte-level BPE needs 256 byte tokens + end-of-text (>= 257)",
         o.vocab_size);
  if (o.shard_tokens <= 0 || o.shard_tokens > std::numeric_limits<std::int32_t>::max())
    fail("prepare: --shard-tokens {} must be in 1 .. 2^31-1 (the shard header's token count is an int32)",
         o.shard_tokens);
  if (!(o.val_fraction >= 0.0 && o.val_fraction < 1.0))
    fail("prepare: --val-fraction {} must be in [0, 1)", o.val_fraction);
  if (!(o.defaults.quality >= 0.0f && o.defaults.quality <= 10.0f))
    fail("prepare: --default-quality {} must be in [0, 10]", o.defaults.quality);
}

bool is_output_name(const std::string& name) {
  auto shard = [&](std::string_view prefix) {
    return name.starts_with(prefix) && (name.ends_with(".bin") || name.ends_with(".bin.tmp"));
  };
  return shard("train_") || shard("val_") || name == "docs.tsv" || name == "tokenizer.json";
}

// Refuses to mix with an earlier run's shards (a glob would pick up stale
// ones), or removes them with overwrite.
void prepare_out_dir(const PrepareOptions& o) {
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) fail("prepare: cannot create --out directory '{}': {}", o.out_dir, ec.message());
  std::vector<fs::path> earlier;
  for (const auto& entry : fs::directory_iterator(o.out_dir))
    if (is_output_name(entry.path().filename().string())) earlier.push_back(entry.path());
  std::sort(earlier.begin(), earlier.end());
  if (!earlier.empty() && !o.overwrite)
    fail("prepare: '{}' already holds '{}' from an earlier run; pass --overwrite or choose another --out", o.out_dir,
         earlier.front().filename().string());
  for (const auto& path : earlier) fs::remove(path);
}

std::vector<char> choose_val_docs(std::int64_t n, const PrepareOptions& o) {
  std::vector<char> is_val(static_cast<std::size_t>(n), 0);
  if (o.val_fraction <= 0.0) return is_val;
  if (n < 2) {
    log_warn("prepare: only {} document(s); no validation split", n);
    return is_val;
  }
  const std::int64_t n_val = std::clamp<std::int64_t>(std::llround(o.val_fraction * static_cast<double>(n)), 1, n - 1);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), std::int64_t{0});
  RngStream rng(o.seed, derive_stream("prepare.val", 0));
  for (std::int64_t k = 0; k < n_val; ++k) {
    auto j = k + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n - k)));
    std::swap(idx[static_cast<std::size_t>(k)], idx[static_cast<std::size_t>(j)]);
    is_val[static_cast<std::size_t>(idx[static_cast<std::size_t>(k)])] = 1;
  }
  return is_val;
}

// Where a document goes: its shard writer and its docs.tsv rows.
struct SplitOutput {
  ShardSetWriter writer;
  std::vector<DocRecord> rows;
};

}  // namespace

PrepareSummary prepare_dataset(const PrepareOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  validate(o);
  PrepareSummary summary;

  std::unique_ptr<Tokenizer> tokenizer;
  if (!o.tokenizer_path.empty()) {
    tokenizer = load_tokenizer(o.tokenizer_path);
    summary.tokenizer = fmt::format("{}, from {}", tokenizer->name(), o.tokenizer_path);
  } else if (!o.gpt2_files.empty()) {
    auto gpt2 = std::make_unique<Gpt2Tokenizer>(Gpt2Tokenizer::from_files(o.gpt2_files));
    summary.tokenizer = fmt::format("gpt2, from {}", gpt2->source());
    tokenizer = std::move(gpt2);
  }
  prepare_out_dir(o);

  // Pass 1: count documents and bytes (and feed the BPE trainer).
  BpeTrainer trainer;
  for (const auto& input : o.inputs)
    for_each_document(input, o.defaults, [&](Document&& doc) {
      ++summary.docs;
      summary.text_bytes += static_cast<std::int64_t>(doc.text.size());
      if (!tokenizer) trainer.add_text(doc.text);
    });
  if (summary.docs == 0) fail("prepare: the inputs hold no non-empty document");
  if (!tokenizer) {
    const auto t1 = std::chrono::steady_clock::now();
    log_info("prepare: training a BPE tokenizer ({} documents, {} distinct chunks)", summary.docs,
             trainer.unique_chunks());
    tokenizer = std::make_unique<BpeTokenizer>(trainer.train(o.vocab_size));
    summary.tokenizer_seconds = seconds_since(t1);
    summary.tokenizer = fmt::format("{}, trained", tokenizer->name());
  }
  summary.vocab_size = tokenizer->vocab_size();
  summary.eot_first = eot_before_documents(*tokenizer);
  save_tokenizer(*tokenizer, o.out_dir + "/tokenizer.json");

  // Pass 2: encode in batches on all threads, add end-of-text, pack into
  // shards in document order.
  const std::vector<char> is_val = choose_val_docs(summary.docs, o);
  const bool record_vocab = !summary.eot_first;
  SplitOutput train{ShardSetWriter(o.out_dir, "train", o.shard_tokens, summary.vocab_size, record_vocab), {}};
  SplitOutput val{ShardSetWriter(o.out_dir, "val", o.shard_tokens, summary.vocab_size, record_vocab), {}};
  const int threads = o.threads > 0 ? o.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  summary.threads = threads;
  ParallelEncoder encoder(*tokenizer, threads);
  ProgressBar progress("prepare: encoding", summary.text_bytes, o.progress_min_bytes);
  const auto t2 = std::chrono::steady_clock::now();

  std::vector<Document> batch;
  std::vector<std::string_view> texts;
  std::vector<std::vector<std::int32_t>> ids;
  std::int64_t batch_bytes = 0, index = 0;
  auto flush = [&] {
    texts.clear();
    for (const Document& doc : batch) texts.push_back(doc.text);
    std::size_t failed = 0;
    try {
      encoder.encode(texts, ids, &failed);
    } catch (const Error& e) {
      fail("{}: {}", batch[failed].origin, e.what());
    }
    std::vector<std::int32_t> tokens;
    for (std::size_t k = 0; k < batch.size(); ++k) {
      tokens.clear();
      if (summary.eot_first) tokens.push_back(tokenizer->eot_id());
      tokens.insert(tokens.end(), ids[k].begin(), ids[k].end());
      if (!summary.eot_first) tokens.push_back(tokenizer->eot_id());
      SplitOutput& split = is_val[static_cast<std::size_t>(index++)] ? val : train;
      ShardPlacement at = split.writer.add(tokens);
      DocRecord row{&split == &val ? "val" : "train", at.shard, std::move(batch[k].meta), std::move(batch[k].origin)};
      row.meta.offset = at.offset;
      row.meta.length = static_cast<std::int64_t>(tokens.size());
      split.rows.push_back(std::move(row));
    }
    progress.advance(batch_bytes);
    batch.clear();
    batch_bytes = 0;
  };
  for (const auto& input : o.inputs)
    for_each_document(input, o.defaults, [&](Document&& doc) {
      POUCH_CHECK(index + static_cast<std::int64_t>(batch.size()) < summary.docs,
                  "input '{}' changed between the two passes", input);
      batch_bytes += static_cast<std::int64_t>(doc.text.size());
      batch.push_back(std::move(doc));
      if (batch_bytes >= kBatchBytes || batch.size() >= kBatchDocs) flush();
    });
  if (!batch.empty()) flush();
  progress.finish();
  POUCH_CHECK(index == summary.docs, "the inputs changed between the two passes");
  summary.encode_seconds = seconds_since(t2);
  train.writer.finish();
  val.writer.finish();
  summary.val_docs = static_cast<std::int64_t>(val.rows.size());
  summary.train_docs = summary.docs - summary.val_docs;
  train.rows.insert(train.rows.end(), std::make_move_iterator(val.rows.begin()),
                    std::make_move_iterator(val.rows.end()));
  write_doc_table(o.out_dir + "/docs.tsv", train.rows);

  summary.train_tokens = train.writer.tokens_written();
  summary.val_tokens = val.writer.tokens_written();
  summary.train_shards = train.writer.shards_written();
  summary.val_shards = val.writer.shards_written();
  summary.total_seconds = seconds_since(t0);
  return summary;
}

std::string format_summary(const PrepareSummary& s, const std::string& out_dir) {
  return fmt::format(
      "prepared {}: {} documents ({} train, {} val)\n"
      "  tokenizer: {}, vocabulary {} (tokenizer.json){}\n"
      "  encoded {:.1f} MB in {:.1f}s on {} thread(s){}\n"
      "  train: {} tokens in {} shard(s) (train_*.bin)\n"
      "  val:   {} tokens in {} shard(s) (val_*.bin)\n"
      "  per-document metadata: docs.tsv; took {:.1f}s",
      out_dir, s.docs, s.train_docs, s.val_docs, s.tokenizer, s.vocab_size,
      s.tokenizer_seconds > 0 ? fmt::format(", trained in {:.1f}s", s.tokenizer_seconds) : std::string(),
      s.text_bytes / 1e6, s.encode_seconds, s.threads,
      s.eot_first ? "; llm.c's layout: end-of-text before each document" : "", s.train_tokens, s.train_shards,
      s.val_tokens, s.val_shards, s.total_seconds);
}

}  // namespace pouch
