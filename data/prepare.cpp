#include "data/prepare.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>

#include "data/bpe_trainer.h"
#include "data/doc_table.h"
#include "data/shard_set_writer.h"
#include "data/stable_hash.h"
#include "data/tokenizer.h"
#include "runtime/error.h"
#include "runtime/log.h"
#include "runtime/rng.h"

namespace pouch {

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void validate(const PrepareOptions& o) {
  if (o.inputs.empty()) fail("prepare: no --input given");
  if (o.out_dir.empty()) fail("prepare: no --out directory given");
  if (o.tokenizer_path.empty() && o.vocab_size < 257)
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

}  // namespace

PrepareSummary prepare_dataset(const PrepareOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  validate(o);
  PrepareSummary summary;

  std::unique_ptr<Tokenizer> tokenizer;
  if (!o.tokenizer_path.empty()) {
    tokenizer = load_tokenizer(o.tokenizer_path);
    summary.tokenizer = fmt::format("{}, from {}", tokenizer->name(), o.tokenizer_path);
  }
  prepare_out_dir(o);

  // Pass 1: count documents (and feed the BPE trainer).
  BpeTrainer trainer;
  for (const auto& input : o.inputs)
    for_each_document(input, o.defaults, [&](Document&& doc) {
      ++summary.docs;
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
  save_tokenizer(*tokenizer, o.out_dir + "/tokenizer.json");

  // Pass 2: encode, append end-of-text, pack into shards.
  const std::vector<char> is_val = choose_val_docs(summary.docs, o);
  ShardSetWriter train(o.out_dir, "train", o.shard_tokens, summary.vocab_size);
  ShardSetWriter val(o.out_dir, "val", o.shard_tokens, summary.vocab_size);
  std::vector<DocRecord> train_rows, val_rows;
  const auto* bpe = dynamic_cast<const BpeTokenizer*>(tokenizer.get());
  BpeChunkCache cache;
  std::vector<std::int32_t> ids;
  std::int64_t index = 0;
  for (const auto& input : o.inputs)
    for_each_document(input, o.defaults, [&](Document&& doc) {
      POUCH_CHECK(index < summary.docs, "input '{}' changed between the two passes", input);
      ids.clear();
      try {
        if (bpe)
          bpe->encode_append(doc.text, ids, &cache);
        else
          ids = tokenizer->encode(doc.text);
      } catch (const Error& e) {
        fail("{}: {}", doc.origin, e.what());
      }
      ids.push_back(tokenizer->eot_id());
      const bool to_val = is_val[static_cast<std::size_t>(index++)] != 0;
      ShardPlacement at = (to_val ? val : train).add(ids);
      DocRecord row{to_val ? "val" : "train", at.shard, std::move(doc.meta), std::move(doc.origin)};
      row.meta.offset = at.offset;
      row.meta.length = static_cast<std::int64_t>(ids.size());
      (to_val ? val_rows : train_rows).push_back(std::move(row));
      if (cache.size() > 1'000'000) cache.clear();
    });
  POUCH_CHECK(index == summary.docs, "the inputs changed between the two passes");
  train.finish();
  val.finish();
  train_rows.insert(train_rows.end(), std::make_move_iterator(val_rows.begin()),
                    std::make_move_iterator(val_rows.end()));
  write_doc_table(o.out_dir + "/docs.tsv", train_rows);

  summary.val_docs = static_cast<std::int64_t>(val_rows.size());
  summary.train_docs = summary.docs - summary.val_docs;
  summary.train_tokens = train.tokens_written();
  summary.val_tokens = val.tokens_written();
  summary.train_shards = train.shards_written();
  summary.val_shards = val.shards_written();
  summary.total_seconds = seconds_since(t0);
  return summary;
}

std::string format_summary(const PrepareSummary& s, const std::string& out_dir) {
  return fmt::format(
      "prepared {}: {} documents ({} train, {} val)\n"
      "  tokenizer: {}, vocabulary {} (tokenizer.json){}\n"
      "  train: {} tokens in {} shard(s) (train_*.bin)\n"
      "  val:   {} tokens in {} shard(s) (val_*.bin)\n"
      "  per-document metadata: docs.tsv; took {:.1f}s",
      out_dir, s.docs, s.train_docs, s.val_docs, s.tokenizer, s.vocab_size,
      s.tokenizer_seconds > 0 ? fmt::format(", trained in {:.1f}s", s.tokenizer_seconds) : std::string(),
      s.train_tokens, s.train_shards, s.val_tokens, s.val_shards, s.total_seconds);
}

}  // namespace pouch
