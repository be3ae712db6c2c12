#include "bench/encode_bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "data/document_reader.h"
#include "data/gpt2_tokenizer.h"
#include "data/parallel_encoder.h"
#include "runtime/error.h"

namespace pouch {

namespace {

struct Runs {
  std::vector<double> mbps;
  double median() const {
    std::vector<double> v = mbps;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  }
  std::string text() const {
    return fmt::format("{:7.2f} MB/s  [{:.2f} .. {:.2f}]", median(), *std::min_element(mbps.begin(), mbps.end()),
                       *std::max_element(mbps.begin(), mbps.end()));
  }
};

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `processes` copies of the tiktoken bench at once; run r's rate is the
// sum over processes of bytes / seconds of their pass r.
Runs tiktoken_runs(const EncodeBenchOptions& o, const std::string& corpus, int processes) {
  const std::string cmd = fmt::format("{} {} bench {} {}", shell_quote(o.node), shell_quote(o.tiktoken_script),
                                      shell_quote(corpus), o.repeats);
  std::vector<std::FILE*> pipes;
  for (int p = 0; p < processes; ++p) {
    std::FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) fail("bench-encode: cannot start '{}'", cmd);
    pipes.push_back(f);
  }
  Runs runs;
  runs.mbps.assign(static_cast<std::size_t>(o.repeats), 0.0);
  for (std::FILE* f : pipes) {
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, f)) out.append(buf, n);
    const int rc = ::pclose(f);
    if (rc != 0) fail("bench-encode: '{}' failed (exit status {}); is tiktoken installed (NODE_PATH)?", cmd, rc);
    try {
      auto j = nlohmann::json::parse(out);
      const double bytes = j.at("bytes").get<double>();
      const auto& seconds = j.at("seconds");
      for (int r = 0; r < o.repeats; ++r)
        runs.mbps[static_cast<std::size_t>(r)] += bytes / 1e6 / seconds.at(r).get<double>();
    } catch (const nlohmann::json::exception& e) {
      fail("bench-encode: '{}' printed '{}', not the expected JSON: {}", cmd, out, e.what());
    }
  }
  return runs;
}

}  // namespace

int run_encode_bench(const EncodeBenchOptions& o) {
  if (o.inputs.empty()) fail("bench-encode: no --input given");
  if (o.repeats < 1) fail("bench-encode: --repeats {} must be >= 1", o.repeats);
  if (!o.tiktoken_script.empty() && (o.inputs.size() != 1 || !o.inputs[0].ends_with(".jsonl")))
    fail("bench-encode: with --tiktoken, give one --input, a .jsonl corpus (both sides read its \"text\" fields)");
  std::unique_ptr<Tokenizer> tokenizer;
  if (!o.tokenizer_path.empty())
    tokenizer = load_tokenizer(o.tokenizer_path);
  else if (!o.gpt2_files.empty())
    tokenizer = std::make_unique<Gpt2Tokenizer>(Gpt2Tokenizer::from_files(o.gpt2_files));
  else
    fail("bench-encode: give --tokenizer FILE or --gpt2-files DIR");

  std::vector<std::string> docs;
  std::int64_t bytes = 0;
  DocumentDefaults defaults;
  defaults.text_split = TextSplit::File;
  for (const auto& input : o.inputs)
    for_each_document(input, defaults, [&](Document&& doc) {
      bytes += static_cast<std::int64_t>(doc.text.size());
      docs.push_back(std::move(doc.text));
    });
  if (bytes == 0) fail("bench-encode: the inputs hold no text");
  const std::vector<std::string_view> texts(docs.begin(), docs.end());

  // A wrong tokenizer is not worth timing: every document must decode back.
  std::vector<std::vector<std::int32_t>> ids;
  ParallelEncoder(*tokenizer, 2).encode(texts, ids);
  std::int64_t tokens = 0;
  for (std::size_t i = 0; i < docs.size(); ++i) {
    tokens += static_cast<std::int64_t>(ids[i].size());
    if (tokenizer->decode(ids[i]) != docs[i]) fail("bench-encode: document {} does not decode back to its text", i);
  }

  fmt::print("{} tokenizer encoding {:.1f} MB ({} documents, {} tokens), {} run(s) each: median [min .. max]\n",
             tokenizer->name(), bytes / 1e6, docs.size(), tokens, o.repeats);
  Runs pouch_runs[2];
  for (int threads = 1; threads <= 2; ++threads) {
    Runs& runs = pouch_runs[threads - 1];
    for (int r = 0; r < o.repeats; ++r) {
      ParallelEncoder encoder(*tokenizer, threads);
      const auto t0 = std::chrono::steady_clock::now();
      encoder.encode(texts, ids);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      runs.mbps.push_back(static_cast<double>(bytes) / 1e6 / s);
    }
    fmt::print("  pouch     {} thread{}   {}\n", threads, threads == 1 ? " " : "s", runs.text());
  }
  if (o.tiktoken_script.empty()) return 0;
  Runs tik[2] = {tiktoken_runs(o, o.inputs[0], 1), tiktoken_runs(o, o.inputs[0], 2)};
  fmt::print("  tiktoken  1 process   {}\n", tik[0].text());
  fmt::print("  tiktoken  2 processes {}\n", tik[1].text());
  const double r1 = pouch_runs[0].median() / tik[0].median(), r2 = pouch_runs[1].median() / tik[1].median();
  fmt::print("  pouch / tiktoken: {:.2f}x at 1 worker, {:.2f}x at 2 workers\n", r1, r2);
  if (o.min_ratio > 0 && r1 < o.min_ratio) {
    fmt::print("FAIL: pouch's 1-thread median is {:.2f}x tiktoken's, below --min-ratio {}\n", r1, o.min_ratio);
    return 1;
  }
  return 0;
}

}  // namespace pouch
