#include "checkpoint/serving_versions.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "checkpoint/atomic_file.h"
#include "runtime/error.h"
#include "runtime/log.h"

namespace pouch {

namespace fs = std::filesystem;

namespace {

constexpr const char* kVersionPrefix = "v-";
constexpr const char* kVersionSuffix = ".h5";
constexpr int kVersionDigits = 6;

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void write_latest(const fs::path& dir, std::int64_t version) {
  const fs::path latest = dir / kServingLatestFile;
  const std::string tmp = temporary_path(latest.string());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << version << ' ' << serving_version_file_name(version) << '\n';
    out.flush();
    if (!out) fail("cannot write '{}': check free disk space and the directory's permissions", tmp);
  }
  publish(tmp, latest.string());
}

// Deletes all but the newest `keep` versions and stale .tmp files of older
// versions (left by a publisher killed mid-write); never `current`.
void prune(const fs::path& dir, std::int64_t current, int keep) {
  std::vector<ServingVersion> versions = list_serving_versions(dir.string());
  std::error_code ec;
  const std::size_t n = versions.size();
  for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < n; ++i) {
    if (versions[i].version == current) continue;
    if (!fs::remove(versions[i].path, ec) && ec)
      log_warn("serving directory '{}': cannot delete old version '{}': {}", dir.string(), versions[i].path,
               ec.message());
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const std::string tmp_suffix = ".tmp";
    if (!name.ends_with(tmp_suffix)) continue;
    auto v = parse_serving_version_file_name(name.substr(0, name.size() - tmp_suffix.size()));
    if (v && *v < current) fs::remove(entry.path(), ec);
  }
}

}  // namespace

std::string serving_dir(const std::string& run_dir) { return (fs::path(run_dir) / "serve").string(); }

std::string serving_version_file_name(std::int64_t version) {
  POUCH_CHECK(version >= 0, "negative serving version {}", version);
  return fmt::format("{}{:0{}d}{}", kVersionPrefix, version, kVersionDigits, kVersionSuffix);
}

std::optional<std::int64_t> parse_serving_version_file_name(const std::string& name) {
  if (!name.starts_with(kVersionPrefix) || !name.ends_with(kVersionSuffix)) return std::nullopt;
  const std::size_t begin = std::strlen(kVersionPrefix);
  const std::size_t end = name.size() - std::strlen(kVersionSuffix);
  if (end < begin) return std::nullopt;
  const std::string digits = name.substr(begin, end - begin);
  if (digits.size() < static_cast<std::size_t>(kVersionDigits) || digits.size() > 18 || !all_digits(digits))
    return std::nullopt;
  return std::stoll(digits);
}

std::vector<ServingVersion> list_serving_versions(const std::string& dir) {
  std::map<std::int64_t, std::string> by_version;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    auto version = parse_serving_version_file_name(entry.path().filename().string());
    if (version && entry.is_regular_file(ec)) by_version[*version] = entry.path().string();
  }
  std::vector<ServingVersion> out;
  for (auto& [version, path] : by_version) out.push_back({version, path});
  return out;
}

std::optional<ServingVersion> read_latest_serving_version(const std::string& dir) {
  const fs::path latest = fs::path(dir) / kServingLatestFile;
  std::ifstream in(latest, std::ios::binary);
  if (!in) return std::nullopt;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Exactly "<version> <file>" and an optional final newline.
  const std::string line = text.ends_with('\n') ? text.substr(0, text.size() - 1) : text;
  const auto malformed = [&](const char* why) {
    fail(
        "'{}' is malformed ({}): expected one line '<version> <file>', e.g. '7 {}', as publish_serving_version "
        "writes it, but it holds '{}'; republish, or fix or delete the file",
        latest.string(), why, serving_version_file_name(7), line.substr(0, 80));
  };
  const std::size_t space = line.find(' ');
  if (space == std::string::npos) malformed("no space between version and file");
  const std::string number = line.substr(0, space), name = line.substr(space + 1);
  if (!all_digits(number) || number.size() > 18) malformed("the version is not a non-negative integer");
  const auto from_name = parse_serving_version_file_name(name);
  if (!from_name) malformed("the file is not a version file name v-NNNNNN.h5");
  const std::int64_t version = std::stoll(number);
  if (*from_name != version) malformed("the version and the file's name disagree");
  return ServingVersion{version, (fs::path(dir) / name).string()};
}

ServingVersion publish_serving_version(const std::string& dir, std::int64_t version, const NamedTensors& named,
                                       const GPTConfig& config, const std::string& tokenizer_json,
                                       const std::string& config_ini, int keep) {
  if (version < 1) fail("serving version {} for '{}' must be >= 1", version, dir);
  if (keep < 1) fail("serving directory '{}': keep must be >= 1 (got {}): LATEST's file is always kept", dir, keep);
  if (tokenizer_json.empty())
    fail(
        "publishing serving version {} to '{}' needs the tokenizer (Tokenizer::serialize()): the server encodes "
        "prompts with it",
        version, dir);
  if (auto latest = read_latest_serving_version(dir); latest && version <= latest->version)
    fail(
        "serving version {} for '{}' is not newer than the published version {} (LATEST): versions must strictly "
        "increase, so a server never goes back; publish a higher version or start a fresh serving directory",
        version, dir, latest->version);

  std::error_code ec;
  if (!fs::create_directories(dir, ec) && ec) fail("cannot create serving directory '{}': {}", dir, ec.message());
  std::map<std::string, std::string> attrs{{"tokenizer", tokenizer_json}};
  if (!config_ini.empty()) attrs["config"] = config_ini;
  const std::string path = (fs::path(dir) / serving_version_file_name(version)).string();
  save_weights(path, config, named, attrs);  // v-N.h5.tmp, fsync, rename, fsync dir
  write_latest(dir, version);
  prune(dir, version, keep);
  return {version, path};
}

}  // namespace pouch
