// `pouch data <subcommand>`: data preparation. The logic lives in data/;
// this file only maps command-line options onto it.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "bench/encode_bench.h"
#include "data/prepare.h"
#include "launcher/commands.h"
#include "runtime/error.h"

namespace po = boost::program_options;

namespace pouch {

namespace {

constexpr const char* kDataUsage =
    "usage: pouch data <subcommand> [options]\n"
    "\n"
    "subcommands:\n"
    "  prepare        tokenize text/JSONL files into token shards (pouch data prepare --help)\n"
    "  bench-encode   tokenizer encoding speed, against tiktoken (pouch data bench-encode --help)\n";

constexpr const char* kBenchIntro =
    "usage: pouch data bench-encode (--tokenizer FILE | --gpt2-files DIR) --input FILE [options]\n"
    "\n"
    "Times encoding the inputs' documents (*.jsonl: the \"text\" fields; other files whole)\n"
    "with 1 and 2 threads, after checking that every document decodes back. With\n"
    "--tiktoken (tests/data/gpt2_reference/reference.js, tiktoken in NODE_PATH) it\n"
    "times tiktoken's gpt2 encoding on the same .jsonl in 1 and 2 node processes and\n"
    "prints the ratios.\n";

constexpr const char* kPrepareIntro =
    "usage: pouch data prepare --input FILE [--input FILE ...] --out DIR [options]\n"
    "\n"
    "Tokenizes documents into token shards for `[data] path = DIR/train_*.bin`.\n"
    "Inputs: *.jsonl files hold one JSON object per line, {\"text\": ..., \"quality\": 0-10,\n"
    "\"level\": N, \"source\": ...} (only text is required; other fields are ignored); any\n"
    "other file is plain text whose documents are separated by blank lines (see\n"
    "--text-split). Every document ends with the tokenizer's end-of-text token;\n"
    "with --tokenizer gpt2 (GPT-2's tokenizer, from --gpt2-files DIR) every document\n"
    "starts with it instead (50256), as llm.c's data scripts write it.\n"
    "Writes DIR/tokenizer.json, DIR/train_000000.bin ..., DIR/val_000000.bin ... and\n"
    "DIR/docs.tsv (shard, offset, length, quality, level, source per document).\n"
    "Formats: docs/data-format.md.\n";

po::options_description prepare_options() {
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("help,h", "print this help")
      ("input,i", po::value<std::vector<std::string>>()->composing(),
       "input file (repeatable; in the order given). *.jsonl = JSON lines, anything else = plain text")
      ("out,o", po::value<std::string>(), "output directory (created if missing)")
      ("vocab-size", po::value<std::int64_t>()->default_value(4096),
       "vocabulary of the byte-level BPE tokenizer to train: 256 bytes + merges + end-of-text (>= 257); "
       "training stops early if no pair occurs twice")
      ("tokenizer", po::value<std::string>(),
       "'gpt2' = GPT-2's tokenizer (needs --gpt2-files); 'bpe' = train one (the default); anything else is "
       "a tokenizer file (a tokenizer.json of an earlier run; write ./gpt2 for a file of that name) to use; "
       "all but 'bpe' exclude --vocab-size")
      ("gpt2-files", po::value<std::string>(),
       "directory with GPT-2's encoder.json + vocab.bpe (or Hugging Face's vocab.json + merges.txt), for "
       "--tokenizer gpt2")
      ("threads", po::value<int>()->default_value(0), "encoding threads (0 = all cores)")
      ("shard-tokens", po::value<std::int64_t>()->default_value(100'000'000),
       "most tokens per shard; a document never spans shards, so one longer document gets a shard of its own")
      ("val-fraction", po::value<double>()->default_value(0.01),
       "fraction of documents held out for validation (val_*.bin), chosen at random by --seed; "
       "at least one when > 0 and there are two or more documents")
      ("seed", po::value<std::uint64_t>()->default_value(1337), "seed of the train/validation split")
      ("text-split", po::value<std::string>()->default_value("blank-line"),
       "how plain-text files divide into documents: 'blank-line' (one or more blank lines end a "
       "document) or 'file' (each file is one document)")
      ("default-quality", po::value<float>()->default_value(5.0f),
       "quality score (0-10) of documents that do not give one")
      ("overwrite", po::bool_switch(),
       "replace the shards, docs.tsv and tokenizer.json of an earlier run in --out (otherwise an error)");
  // clang-format on
  return desc;
}

std::string help_text(const po::options_description& desc) {
  std::ostringstream out;
  out << kPrepareIntro << "\n" << desc;
  return out.str();
}

int run_prepare(const std::vector<std::string>& args) {
  const po::options_description desc = prepare_options();
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    fail("prepare: {} (see pouch data prepare --help)", e.what());
  }
  if (vm.count("help")) {
    std::fputs(help_text(desc).c_str(), stdout);
    return 0;
  }
  PrepareOptions o;
  if (vm.count("input")) o.inputs = vm["input"].as<std::vector<std::string>>();
  if (vm.count("out")) o.out_dir = vm["out"].as<std::string>();
  const std::string tokenizer = vm.count("tokenizer") ? vm["tokenizer"].as<std::string>() : "bpe";
  if (tokenizer != "bpe" && !vm["vocab-size"].defaulted())
    fail(
        "prepare: --vocab-size sizes a BPE tokenizer to train; it does not apply to --tokenizer {} "
        "(drop one of them)",
        tokenizer);
  if (tokenizer == "gpt2") {
    if (!vm.count("gpt2-files"))
      fail(
          "prepare: --tokenizer gpt2 needs --gpt2-files DIR, a directory with GPT-2's encoder.json and "
          "vocab.bpe (or Hugging Face's vocab.json and merges.txt)");
    o.gpt2_files = vm["gpt2-files"].as<std::string>();
  } else if (vm.count("gpt2-files")) {
    fail("prepare: --gpt2-files is for --tokenizer gpt2 (add it, or drop --gpt2-files)");
  } else if (tokenizer != "bpe") {
    o.tokenizer_path = tokenizer;
  }
  o.threads = vm["threads"].as<int>();
  o.vocab_size = vm["vocab-size"].as<std::int64_t>();
  o.shard_tokens = vm["shard-tokens"].as<std::int64_t>();
  o.val_fraction = vm["val-fraction"].as<double>();
  o.seed = vm["seed"].as<std::uint64_t>();
  o.defaults.quality = vm["default-quality"].as<float>();
  o.overwrite = vm["overwrite"].as<bool>();
  const std::string split = vm["text-split"].as<std::string>();
  if (split == "blank-line")
    o.defaults.text_split = TextSplit::BlankLine;
  else if (split == "file")
    o.defaults.text_split = TextSplit::File;
  else
    fail("prepare: --text-split '{}' is not one of: blank-line, file", split);

  PrepareSummary summary = prepare_dataset(o);
  fmt::print("{}\n", format_summary(summary, o.out_dir));
  return 0;
}

po::options_description bench_options() {
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("help,h", "print this help")
      ("tokenizer", po::value<std::string>(), "tokenizer file (a tokenizer.json)")
      ("gpt2-files", po::value<std::string>(), "or GPT-2's files: a directory with encoder.json + vocab.bpe")
      ("input,i", po::value<std::vector<std::string>>()->composing(), "input file (repeatable)")
      ("repeats", po::value<int>()->default_value(5), "timed runs per setting")
      ("tiktoken", po::value<std::string>(), "the reference script that runs tiktoken (reference.js)")
      ("node", po::value<std::string>()->default_value("node"), "the Node.js binary for --tiktoken")
      ("min-ratio", po::value<double>()->default_value(0.0),
       "exit 1 when pouch's 1-thread median MB/s is below this multiple of tiktoken's (0 = report only)");
  // clang-format on
  return desc;
}

int run_bench_encode(const std::vector<std::string>& args) {
  const po::options_description desc = bench_options();
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    fail("bench-encode: {} (see pouch data bench-encode --help)", e.what());
  }
  if (vm.count("help")) {
    std::ostringstream out;
    out << kBenchIntro << "\n" << desc;
    std::fputs(out.str().c_str(), stdout);
    return 0;
  }
  EncodeBenchOptions o;
  if (vm.count("tokenizer")) o.tokenizer_path = vm["tokenizer"].as<std::string>();
  if (vm.count("gpt2-files")) o.gpt2_files = vm["gpt2-files"].as<std::string>();
  if (vm.count("tokenizer") && vm.count("gpt2-files")) fail("bench-encode: give --tokenizer or --gpt2-files, not both");
  if (vm.count("input")) o.inputs = vm["input"].as<std::vector<std::string>>();
  if (vm.count("tiktoken")) o.tiktoken_script = vm["tiktoken"].as<std::string>();
  o.repeats = vm["repeats"].as<int>();
  o.node = vm["node"].as<std::string>();
  o.min_ratio = vm["min-ratio"].as<double>();
  return run_encode_bench(o);
}

}  // namespace

int run_data_command(const std::vector<std::string>& args) {
  if (args.empty()) fail("missing subcommand\n{}", kDataUsage);
  const std::string& sub = args[0];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::fputs(kDataUsage, stdout);
    return 0;
  }
  if (sub == "prepare") return run_prepare(std::vector<std::string>(args.begin() + 1, args.end()));
  if (sub == "bench-encode") return run_bench_encode(std::vector<std::string>(args.begin() + 1, args.end()));
  fail("unknown subcommand '{}'\n{}", sub, kDataUsage);
}

}  // namespace pouch
