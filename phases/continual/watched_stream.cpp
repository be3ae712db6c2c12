#include "phases/continual/watched_stream.h"

#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "data/watched_file.h"
#include "phases/schedule/world_agreement.h"
#include "runtime/error.h"

namespace pouch {

namespace {

constexpr const char* kLedgerAttr = "continual_watch_ledger";
constexpr const char* kPendingKey = "continual_watch_pending";
constexpr const char* kCountsKey = "continual_watch_counts";

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

nlohmann::json to_json(const WatchLedgerEntry& e) {
  return {{"name", e.name},     {"hash", fmt::format("{:016x}", e.hash)},
          {"bytes", e.bytes},   {"documents", e.documents},
          {"tokens", e.tokens}, {"error", e.error}};
}

WatchLedgerEntry from_json(const nlohmann::json& j) {
  WatchLedgerEntry e;
  e.name = j.at("name").get<std::string>();
  e.hash = std::stoull(j.at("hash").get<std::string>(), nullptr, 16);
  e.bytes = j.at("bytes").get<std::int64_t>();
  e.documents = j.at("documents").get<std::int64_t>();
  e.tokens = j.at("tokens").get<std::int64_t>();
  e.error = j.at("error").get<std::string>();
  return e;
}

}  // namespace

std::string describe(const WatchLedgerEntry& e) {
  if (!e.error.empty()) return fmt::format("{} skipped: {}", e.name, e.error);
  return fmt::format("{} ({} documents, {} tokens)", e.name, e.documents, e.tokens);
}

WatchedStream::WatchedStream(std::string dir, WatchProtocol protocol, std::int64_t seq_len, const Tokenizer& tokenizer,
                             std::int64_t vocab_size)
    : dir_(std::move(dir)), protocol_(protocol), seq_len_(seq_len), tokenizer_(tokenizer), vocab_size_(vocab_size) {}

WatchPoll WatchedStream::poll(const TrainRanks& ranks, Backend& be, std::int64_t windows_wanted) {
  // Rank 0's findings as one JSON message {entries, idle_s, error} and one
  // token array, so every rank appends exactly what rank 0 read.
  nlohmann::json message = {{"entries", nlohmann::json::array()}, {"idle_s", 0.0}, {"error", ""}};
  std::vector<std::int32_t> tokens;
  if (ranks.main()) {
    try {
      for (const std::string& name : list_complete_files(dir_, protocol_, known_)) {
        WatchedFile f = read_watched_file(dir_, name, tokenizer_, vocab_size_);
        WatchLedgerEntry e{f.name, f.hash, f.bytes, f.documents, static_cast<std::int64_t>(f.tokens.size()), f.error};
        message["entries"].push_back(to_json(e));
        tokens.insert(tokens.end(), f.tokens.begin(), f.tokens.end());
      }
    } catch (const Error& e) {
      message["error"] = e.what();
    }
    // Idle: short of data, and nothing new since it went short.
    const std::int64_t ready = windows_ready_with(static_cast<std::int64_t>(tokens.size()));
    if (ready >= windows_wanted || !tokens.empty())
      idle_since_ = ready >= windows_wanted ? -1.0 : now_s();
    else if (idle_since_ < 0)
      idle_since_ = now_s();
    message["idle_s"] = idle_since_ < 0 ? 0.0 : now_s() - idle_since_;
  }
  message = nlohmann::json::parse(broadcast_from_rank0(ranks, be, message.dump()));
  tokens = broadcast_from_rank0(ranks, be, tokens);
  if (const auto error = message["error"].get<std::string>(); !error.empty())
    fail("continual phase, watch_dir: {} (on rank 0)", error);
  WatchPoll out;
  out.idle_s = message["idle_s"].get<double>();
  std::size_t offset = 0;
  for (const auto& j : message["entries"]) {
    WatchLedgerEntry e = from_json(j);
    const std::vector<std::int32_t> mine(tokens.begin() + static_cast<std::ptrdiff_t>(offset),
                                         tokens.begin() + static_cast<std::ptrdiff_t>(offset + e.tokens));
    offset += static_cast<std::size_t>(e.tokens);
    out.added.push_back(e);
    append(std::move(e), mine);
  }
  POUCH_CHECK(offset == tokens.size(), "watch poll: {} tokens broadcast, the entries list {}", tokens.size(), offset);
  return out;
}

void WatchedStream::append(WatchLedgerEntry entry, const std::vector<std::int32_t>& tokens) {
  known_.insert(entry.name);
  pending_.insert(pending_.end(), tokens.begin(), tokens.end());
  tokens_received_ += static_cast<std::int64_t>(tokens.size());
  ledger_.push_back(std::move(entry));
}

std::int64_t WatchedStream::windows_ready() const { return windows_ready_with(0); }

std::int64_t WatchedStream::windows_ready_with(std::int64_t more_tokens) const {
  const std::int64_t n = static_cast<std::int64_t>(pending_.size()) + more_tokens;
  return n > seq_len_ ? (n - 1) / seq_len_ : 0;
}

void WatchedStream::window(std::int64_t k, std::int32_t* inputs, std::int32_t* targets) const {
  POUCH_CHECK(k >= 0 && k < windows_ready(), "window {} of {} ready", k, windows_ready());
  const std::int32_t* p = pending_.data() + k * seq_len_;
  std::copy(p, p + seq_len_, inputs);
  std::copy(p + 1, p + seq_len_ + 1, targets);
}

void WatchedStream::consume(std::int64_t windows) {
  POUCH_CHECK(windows >= 0 && windows <= windows_ready(), "consume {} of {} windows ready", windows, windows_ready());
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(windows * seq_len_));
  windows_consumed_ += windows;
}

std::int64_t WatchedStream::files_learned() const {
  std::int64_t n = 0;
  for (const auto& e : ledger_) n += e.error.empty() ? 1 : 0;
  return n;
}

std::int64_t WatchedStream::files_skipped() const {
  return static_cast<std::int64_t>(ledger_.size()) - files_learned();
}

void WatchedStream::save(CheckpointState& state) const {
  nlohmann::json ledger = nlohmann::json::array();
  for (const auto& e : ledger_) ledger.push_back(to_json(e));
  state.extra_attrs[kLedgerAttr] = ledger.dump();
  state.data_per_rank[kPendingKey] = std::vector<std::int64_t>(pending_.begin(), pending_.end());
  state.data_per_rank[kCountsKey] = {windows_consumed_, tokens_received_};
}

void WatchedStream::restore(const CheckpointState& rows, const std::string& file) {
  const auto ledger = rows.extra_attrs.find(kLedgerAttr);
  const auto pending = rows.data_per_rank.find(kPendingKey);
  const auto counts = rows.data_per_rank.find(kCountsKey);
  if (ledger == rows.extra_attrs.end() || pending == rows.data_per_rank.end() || counts == rows.data_per_rank.end() ||
      counts->second.size() != 2)
    fail(
        "{}: no watched-directory state (/meta {}, /data {}, /data {}): it was not written by a continual phase "
        "with watch_dir; resume with the config that wrote it",
        file, kLedgerAttr, kPendingKey, kCountsKey);
  ledger_.clear();
  known_.clear();
  try {
    for (const auto& j : nlohmann::json::parse(ledger->second)) {
      ledger_.push_back(from_json(j));
      known_.insert(ledger_.back().name);
    }
  } catch (const std::exception& e) {
    fail("{}: /meta {} is not a valid ledger: {}", file, kLedgerAttr, e.what());
  }
  pending_.clear();
  for (const std::int64_t t : pending->second) {
    if (t < 0 || t >= vocab_size_)
      fail("{}: /data {} holds token {} outside the model's vocabulary of {}", file, kPendingKey, t, vocab_size_);
    pending_.push_back(static_cast<std::int32_t>(t));
  }
  windows_consumed_ = counts->second[0];
  tokens_received_ = counts->second[1];
  idle_since_ = -1.0;
}

}  // namespace pouch
