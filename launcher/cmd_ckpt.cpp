// pouch ckpt: inspect, verify, export and convert training checkpoints.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include "checkpoint/hdf5_file.h"
#include "checkpoint/hf_gpt2_export.h"
#include "checkpoint/llmc_model_file.h"
#include "checkpoint/safetensors_file.h"
#include "checkpoint/training_checkpoint.h"
#include "checkpoint/weights_file.h"
#include "checkpoint/weights_source.h"
#include "launcher/command_line.h"
#include "launcher/commands.h"

namespace pouch {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

constexpr const char* kCkptUsage = R"(usage: pouch ckpt inspect PATH
       pouch ckpt verify PATH
       pouch ckpt export [--format safetensors] [--layout pouch|hf-gpt2] PATH OUT
       pouch ckpt export --format llmc [--dtype fp32|bf16] PATH OUT.bin
       pouch ckpt convert PATH OUT.h5

PATH is a checkpoint's state.h5, its step-N directory, or a checkpoint
directory (its `latest` is used); export and convert also take a pouch
weights file (model.h5), and inspect, export and convert an llm.c model file
(told by its magic number, 20240326).
inspect  step, tokens seen, phase, the layout that wrote it, pouch and format
         versions, the model, every dataset's shape and size, the config, and
         the checksum verification.
verify   checksums only; exit status 0 when every dataset verifies, 1 if not.
export   the full logical weights (/model), checksums verified first:
         --format safetensors --layout pouch (the default): OUT is one
           safetensors file under pouch's names, readable by any safetensors
           reader; the model config and tokenizer go in __metadata__.
         --format safetensors --layout hf-gpt2: OUT is a directory that
           Hugging Face's GPT2LMHeadModel.from_pretrained(OUT) loads:
           model.safetensors under GPT-2's names (Conv1D weights transposed
           to [in, out], lm_head tied to wte and not stored) and config.json.
         --format llmc: OUT is llm.c's model file (header magic 20240326,
           version 3 with --dtype fp32, 5 with --dtype bf16, rounded to
           nearest even; vocabulary padded to a multiple of 128 with zero
           rows), for llm.c's train_gpt2 -e OUT. The tokenizer is not in it.
convert  the weights as a pouch weights file (HDF5, docs/checkpoint-format.md),
         with the tokenizer and config when PATH has them, for pouch eval /
         generate / init_from (which also reads llm.c's model file directly).

Options)";

std::string resolve_checkpoint(const std::string& path) {
  if (fs::is_regular_file(path)) return path;
  if (fs::is_directory(path)) {
    if (fs::exists(fs::path(path) / "state.h5")) return (fs::path(path) / "state.h5").string();
    const fs::path latest = fs::path(path) / "latest";
    if (fs::exists(latest)) {
      std::ifstream in(latest);
      std::string name;
      in >> name;
      const fs::path file = fs::path(path) / name / "state.h5";
      if (!fs::exists(file))
        fail("{} names {}, which does not exist; use a step-N directory instead", latest.string(), name);
      return file.string();
    }
    fail("{} holds no state.h5 and no `latest`: give a checkpoint file, a step-N directory or a checkpoint directory",
         path);
  }
  fail("checkpoint {} does not exist", path);
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (b >= 1024 && u < 3) b /= 1024, ++u;
  return fmt::format("{:.1f} {}", b, units[u]);
}

// Depth-bounded: a damaged file can hold a group that links to itself.
void walk(const Hdf5File& f, const std::string& group, const std::function<void(const std::string&)>& on_dataset,
          int depth = 0) {
  if (depth > 8) fail("{}: groups nest deeper than 8 levels at '{}': the file is damaged", f.path(), group);
  for (const auto& child : f.children(group)) {
    const std::string path = (group == "/" ? "" : group) + "/" + child;
    if (f.kind(path) == Hdf5Kind::Group) {
      walk(f, path, on_dataset, depth + 1);
    } else if (f.kind(path) == Hdf5Kind::Dataset) {
      on_dataset(path);
    }
  }
}

int inspect(const std::string& path) {
  const Hdf5File f = Hdf5File::open(path);
  auto i64 = [&](const char* key) { return f.get_attr_i64("/meta", key); };
  std::printf("checkpoint %s\n", path.c_str());
  std::printf("  format version %lld, written by pouch %s\n", static_cast<long long>(i64("format_version")),
              f.get_attr_str("/meta", "pouch_version").c_str());
  std::printf("  phase %s, step %lld, tokens seen %lld\n", f.get_attr_str("/meta", "phase").c_str(),
              static_cast<long long>(i64("step")), static_cast<long long>(i64("tokens_seen")));
  std::printf("  written by: tp %lld x dp %lld (%lld ranks)\n", static_cast<long long>(i64("tp")),
              static_cast<long long>(i64("dp")), static_cast<long long>(i64("world_size")));
  const GPTConfig c = read_weights_config(path);
  std::printf("  model: layers %lld, d_model %lld, heads %lld, seq_len %lld, vocab_size %lld (%.2fM parameters)\n",
              static_cast<long long>(c.layers), static_cast<long long>(c.d_model), static_cast<long long>(c.heads),
              static_cast<long long>(c.seq_len), static_cast<long long>(c.vocab_size),
              static_cast<double>(c.num_parameters()) / 1e6);
  std::printf("  datasets:\n");
  double total = 0;
  std::int64_t count = 0;
  walk(f, "/", [&](const std::string& d) {
    const Shape s = f.dataset_shape(d);
    const double bytes =
        static_cast<double>(shape_numel(s)) * (d.starts_with("/rng") || d.starts_with("/data") ? 8 : 4);
    total += bytes;
    ++count;
    std::printf("    %-44s %-16s %s\n", d.c_str(), shape_str(s).c_str(), human_bytes(bytes).c_str());
  });
  std::printf("  %lld datasets, %s\n", static_cast<long long>(count), human_bytes(total).c_str());
  std::printf("  config:\n");
  std::string cfg = f.get_attr_str("/meta", "config");
  std::size_t start = 0;
  while (start < cfg.size()) {
    const std::size_t end = cfg.find('\n', start);
    std::printf("    %s\n", cfg.substr(start, end == std::string::npos ? std::string::npos : end - start).c_str());
    if (end == std::string::npos) break;
    start = end + 1;
  }
  try {
    const std::int64_t n = verify_checkpoint_file(path);
    std::printf("  checksums: all %lld datasets verify (xxh64)\n", static_cast<long long>(n));
    return 0;
  } catch (const Error& e) {
    std::printf("  checksums: FAILED: %s\n", e.what());
    return 1;
  }
}

// An llm.c model file: its header, validated with the file's size.
int inspect_llmc(const std::string& path) {
  const LlmcHeader h = read_llmc_header(path);
  GPTConfig c;
  c.layers = h.num_layers;
  c.d_model = h.channels;
  c.heads = h.num_heads;
  c.seq_len = h.max_seq_len;
  c.vocab_size = h.vocab_size;
  const bool bf16 = h.version == LlmcVersion::BF16;
  std::printf("llm.c model file %s\n", path.c_str());
  std::printf("  version %d (%s), %s\n", static_cast<int>(h.version), bf16 ? "bf16" : "fp32",
              human_bytes(static_cast<double>(fs::file_size(path))).c_str());
  std::printf(
      "  model: layers %lld, d_model %lld, heads %lld, seq_len %lld, vocab_size %lld padded to %lld (%.2fM "
      "parameters)\n",
      static_cast<long long>(c.layers), static_cast<long long>(c.d_model), static_cast<long long>(c.heads),
      static_cast<long long>(c.seq_len), static_cast<long long>(c.vocab_size),
      static_cast<long long>(h.padded_vocab_size), static_cast<double>(c.num_parameters()) / 1e6);
  std::printf(
      "  for init_from: --model.layers=%lld --model.d_model=%lld --model.heads=%lld --model.seq_len=%lld "
      "--model.vocab_size=%lld\n",
      static_cast<long long>(c.layers), static_cast<long long>(c.d_model), static_cast<long long>(c.heads),
      static_cast<long long>(c.seq_len), static_cast<long long>(c.vocab_size));
  return 0;
}

std::map<std::string, std::string> weights_attrs(const std::string& path) {
  const Hdf5File f = Hdf5File::open(path);
  std::map<std::string, std::string> attrs;
  if (f.has_attr("/meta", "tokenizer")) attrs["tokenizer"] = f.get_attr_str("/meta", "tokenizer");
  if (f.has_attr("/meta", "config")) attrs["config"] = f.get_attr_str("/meta", "config");
  return attrs;
}

// The weights to export or convert, with the tokenizer and config (string
// attributes) when the source has them.
struct ExportSource {
  std::string file;
  WeightsFile weights;
};

// An llm.c model file; a training checkpoint (its checksums verified, its
// tokenizer and config from /meta); or a pouch weights file.
ExportSource load_export_source(const std::string& path) {
  if (fs::is_regular_file(path) && is_llmc_model_file(path)) return {path, read_llmc_model(path)};
  ExportSource src{resolve_checkpoint(path), {}};
  bool checkpoint = false;
  try {
    checkpoint = Hdf5File::open(src.file).kind("/meta") == Hdf5Kind::Group;
  } catch (const Error&) {
    // Not HDF5 (nor llm.c's): the loader's error says what pouch reads.
    src.weights = load_weights_any_format(src.file);
    return src;
  }
  if (checkpoint) verify_checkpoint_file(src.file);
  src.weights = load_weights(src.file);
  if (checkpoint) src.weights.attrs = weights_attrs(src.file);
  return src;
}

LlmcVersion parse_llmc_dtype(const std::string& dtype) {
  if (dtype == "fp32") return LlmcVersion::FP32;
  if (dtype == "bf16") return LlmcVersion::BF16;
  fail("--dtype {} is not an llm.c model dtype: use fp32 (version 3) or bf16 (version 5)", dtype);
}

int export_weights(const po::variables_map& vm, const std::string& path, const std::string& out) {
  const std::string format = vm["format"].as<std::string>();
  const std::string layout = vm["layout"].as<std::string>();
  const std::string dtype = vm["dtype"].as<std::string>();
  if (format != "safetensors" && format != "llmc")
    fail("--format {} is not supported: use safetensors or llmc", format);
  if (layout != "pouch" && layout != "hf-gpt2") fail("--layout {} is not supported: use pouch or hf-gpt2", layout);
  if (format == "llmc" && !vm["layout"].defaulted())
    fail("--layout is for --format safetensors; llm.c's model file has one layout of its own");
  if (format == "safetensors" && dtype != "fp32")
    fail("--dtype {} is for --format llmc; safetensors export writes fp32", dtype);

  const ExportSource src = load_export_source(path);
  const GPTConfig& c = src.weights.config;
  if (format == "llmc") {
    const LlmcVersion version = parse_llmc_dtype(dtype);
    write_llmc_model(out, c, src.weights.params, version);
    std::printf("wrote %s as an llm.c model file (version %d, %s, vocabulary %lld padded to %lld) to %s\n",
                src.file.c_str(), static_cast<int>(version), dtype.c_str(), static_cast<long long>(c.vocab_size),
                static_cast<long long>(llmc_padded_vocab(c.vocab_size)), out.c_str());
    return 0;
  }
  if (layout == "hf-gpt2") {
    export_hf_gpt2(out, c, src.weights.params);
    std::printf("wrote %s in Hugging Face's GPT-2 layout to %s/ (model.safetensors, config.json)\n", src.file.c_str(),
                out.c_str());
    return 0;
  }
  auto meta = src.weights.attrs;
  meta["format"] = "pouch";
  meta["layers"] = std::to_string(c.layers);
  meta["d_model"] = std::to_string(c.d_model);
  meta["heads"] = std::to_string(c.heads);
  meta["seq_len"] = std::to_string(c.seq_len);
  meta["vocab_size"] = std::to_string(c.vocab_size);
  meta["ln_eps"] = fmt::format("{}", c.ln_eps);
  write_safetensors(out, src.weights.params, meta);
  std::printf("wrote %zu tensors to %s\n", src.weights.params.size(), out.c_str());
  return 0;
}

}  // namespace

int run_ckpt_command(const std::vector<std::string>& args) {
  po::options_description opts(kCkptUsage);
  opts.add_options()("help,h", "print this help")("format", po::value<std::string>()->default_value("safetensors"),
                                                  "export format: safetensors, or llmc (llm.c's model file)")(
      "layout", po::value<std::string>()->default_value("pouch"),
      "safetensors names and layout: pouch (its own names, weights [out, in]) or hf-gpt2 (Hugging Face "
      "GPT2LMHeadModel: GPT-2's names, Conv1D weights [in, out], plus config.json; OUT is a directory)")(
      "dtype", po::value<std::string>()->default_value("fp32"),
      "llmc element type: fp32 (version 3) or bf16 (version 5, round to nearest even)")(
      "args", po::value<std::vector<std::string>>(), "ACTION PATH [OUT]");
  po::positional_options_description pos;
  pos.add("args", -1);
  const po::variables_map vm = parse_options(args, opts, &pos);
  const auto rest = vm.count("args") ? vm["args"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (vm.count("help") || rest.empty()) {
    std::cout << opts;
    return vm.count("help") ? 0 : 2;
  }
  const std::string& action = rest[0];
  auto need = [&](std::size_t n) {
    if (rest.size() != n) fail("pouch ckpt {} takes {} argument(s); see pouch ckpt --help", action, n - 1);
  };
  if (action == "inspect") {
    need(2);
    if (fs::is_regular_file(rest[1]) && is_llmc_model_file(rest[1])) return inspect_llmc(rest[1]);
    return inspect(resolve_checkpoint(rest[1]));
  }
  if (action == "verify") {
    need(2);
    const std::string path = resolve_checkpoint(rest[1]);
    try {
      const std::int64_t n = verify_checkpoint_file(path);
      std::printf("%s: all %lld datasets verify\n", path.c_str(), static_cast<long long>(n));
      return 0;
    } catch (const Error& e) {
      std::printf("%s: FAILED: %s\n", path.c_str(), e.what());
      return 1;
    }
  }
  if (action == "export") {
    need(3);
    return export_weights(vm, rest[1], rest[2]);
  }
  if (action == "convert") {
    need(3);
    const ExportSource src = load_export_source(rest[1]);
    save_weights(rest[2], src.weights.config, src.weights.params, src.weights.attrs);
    std::printf("wrote the weights of %s to %s\n", src.file.c_str(), rest[2].c_str());
    return 0;
  }
  fail("unknown ckpt action '{}': use inspect, verify, export or convert", action);
}

}  // namespace pouch
