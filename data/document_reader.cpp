#include "data/document_reader.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/error.h"

namespace pouch {

namespace {

bool is_blank(const std::string& line) { return line.find_first_not_of(" \t\r\v\f") == std::string::npos; }

// Source tags live in a tab-separated table.
void check_source(const std::string& source, const std::string& where) {
  if (source.empty()) fail("{}: the source tag is empty", where);
  if (source.find_first_of("\t\n\r") != std::string::npos)
    fail("{}: the source tag '{}' contains a tab or a line break", where, source);
}

std::ifstream open_input(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open input '{}': {}", path, std::strerror(errno));
  return in;
}

void read_jsonl(const std::string& path, const DocumentDefaults& defaults, const std::string& stem,
                const std::function<void(Document&&)>& fn) {
  std::ifstream in = open_input(path);
  std::string line;
  for (std::int64_t lineno = 1; std::getline(in, line); ++lineno) {
    if (is_blank(line)) continue;
    const std::string where = fmt::format("{}:{}", path, lineno);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      fail("{}: bad JSON: {}", where, e.what());
    }
    if (!j.is_object()) fail("{}: expected a JSON object with a \"text\" field", where);
    auto text = j.find("text");
    if (text == j.end() || !text->is_string()) fail("{}: missing string field \"text\"", where);
    Document doc;
    doc.text = text->get<std::string>();
    doc.origin = where;
    doc.meta.quality = defaults.quality;
    doc.meta.level = defaults.level;
    doc.meta.source = stem;
    if (auto q = j.find("quality"); q != j.end()) {
      if (!q->is_number() || !(q->get<double>() >= 0.0 && q->get<double>() <= 10.0))
        fail("{}: \"quality\" must be a number from 0 to 10, not {}", where, q->dump());
      doc.meta.quality = q->get<float>();
    }
    if (auto l = j.find("level"); l != j.end()) {
      if (!l->is_number_integer() || l->get<std::int64_t>() < 0 || l->get<std::int64_t>() > 1000000)
        fail("{}: \"level\" must be a non-negative integer, not {}", where, l->dump());
      doc.meta.level = l->get<std::int32_t>();
    }
    if (auto s = j.find("source"); s != j.end()) {
      if (!s->is_string()) fail("{}: \"source\" must be a string, not {}", where, s->dump());
      doc.meta.source = s->get<std::string>();
    }
    check_source(doc.meta.source, where);
    if (!doc.text.empty()) fn(std::move(doc));
  }
  if (in.bad()) fail("cannot read input '{}': {}", path, std::strerror(errno));
}

void read_text(const std::string& path, const DocumentDefaults& defaults, const std::string& stem,
               const std::function<void(Document&&)>& fn) {
  std::ifstream in = open_input(path);
  check_source(stem, path);
  auto make_doc = [&](std::string text, std::int64_t first_line) {
    Document doc;
    doc.text = std::move(text);
    doc.origin = fmt::format("{}:{}", path, first_line);
    doc.meta.quality = defaults.quality;
    doc.meta.level = defaults.level;
    doc.meta.source = stem;
    return doc;
  };
  if (defaults.text_split == TextSplit::File) {
    std::ostringstream all;
    all << in.rdbuf();
    if (in.bad()) fail("cannot read input '{}': {}", path, std::strerror(errno));
    if (!all.str().empty()) fn(make_doc(all.str(), 1));
    return;
  }
  std::string line, current;
  std::int64_t first_line = 0;
  for (std::int64_t lineno = 1; std::getline(in, line); ++lineno) {
    if (is_blank(line)) {
      if (!current.empty()) fn(make_doc(std::move(current), first_line));
      current.clear();
      continue;
    }
    if (current.empty())
      first_line = lineno;
    else
      current += '\n';
    current += line;
  }
  if (in.bad()) fail("cannot read input '{}': {}", path, std::strerror(errno));
  if (!current.empty()) fn(make_doc(std::move(current), first_line));
}

}  // namespace

void for_each_document(const std::string& path, const DocumentDefaults& defaults,
                       const std::function<void(Document&&)>& fn) {
  if (std::filesystem::is_directory(path)) fail("input '{}' is a directory; give its files", path);
  const std::string stem = std::filesystem::path(path).stem().string();
  if (path.ends_with(".jsonl"))
    read_jsonl(path, defaults, stem, fn);
  else
    read_text(path, defaults, stem, fn);
}

}  // namespace pouch
