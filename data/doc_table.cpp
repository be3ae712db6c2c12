#include "data/doc_table.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string_view>

#include "runtime/error.h"

namespace pouch {

namespace {

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> fields;
  while (true) {
    auto tab = line.find('\t');
    fields.push_back(line.substr(0, tab));
    if (tab == std::string_view::npos) return fields;
    line.remove_prefix(tab + 1);
  }
}

template <typename T>
bool parse_field(std::string_view s, T& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

void write_doc_table(const std::string& path, const std::vector<DocRecord>& docs) {
  const std::string temp = path + ".tmp";
  std::FILE* f = std::fopen(temp.c_str(), "wb");
  if (!f) fail("cannot create '{}': {}", temp, std::strerror(errno));
  fmt::print(f, "{}\n", kDocTableHeader);
  for (const auto& d : docs)
    fmt::print(f, "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n", d.split, d.shard, d.meta.offset, d.meta.length, d.meta.quality,
               d.meta.level, d.meta.source, d.origin);
  bool ok = std::fflush(f) == 0 && !std::ferror(f);
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(temp.c_str());
    fail("cannot write '{}': {}", path, why);
  }
}

std::vector<DocRecord> read_doc_table(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("cannot open document table '{}': {}", path, std::strerror(errno));
  std::string line;
  if (!std::getline(in, line) || line != kDocTableHeader)
    fail("{}:1: not a document table: the header must be '{}'", path, kDocTableHeader);
  std::vector<DocRecord> docs;
  for (std::int64_t lineno = 2; std::getline(in, line); ++lineno) {
    auto f = split_tabs(line);
    if (f.size() != 8) fail("{}:{}: expected 8 tab-separated fields, found {}", path, lineno, f.size());
    DocRecord d;
    d.split = std::string(f[0]);
    d.shard = std::string(f[1]);
    d.meta.source = std::string(f[6]);
    d.origin = std::string(f[7]);
    if (!parse_field(f[2], d.meta.offset) || !parse_field(f[3], d.meta.length) || !parse_field(f[4], d.meta.quality) ||
        !parse_field(f[5], d.meta.level))
      fail("{}:{}: offset, length, quality and level must be numbers", path, lineno);
    docs.push_back(std::move(d));
  }
  return docs;
}

}  // namespace pouch
