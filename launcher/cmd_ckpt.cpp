// pouch ckpt: inspect, verify, export and convert training checkpoints.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include <fmt/format.h>

#include "checkpoint/hdf5_file.h"
#include "checkpoint/safetensors_file.h"
#include "checkpoint/training_checkpoint.h"
#include "checkpoint/weights_file.h"
#include "launcher/command_line.h"
#include "launcher/commands.h"

namespace pouch {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

constexpr const char* kCkptUsage = R"(usage: pouch ckpt inspect PATH
       pouch ckpt verify PATH
       pouch ckpt export --format safetensors PATH OUT
       pouch ckpt convert PATH OUT.h5

PATH is a checkpoint's state.h5, its step-N directory, or a checkpoint
directory (its `latest` is used).
inspect  step, tokens seen, phase, the layout that wrote it, pouch and format
         versions, the model, every dataset's shape and size, the config, and
         the checksum verification.
verify   checksums only; exit status 0 when every dataset verifies, 1 if not.
export   the full logical weights (/model) as safetensors, readable by any
         safetensors reader; the model config and tokenizer go in __metadata__.
convert  the weights as a pouch weights file (HDF5, docs/checkpoint-format.md),
         with the tokenizer and config, for pouch eval / generate / init_from.

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
      if (!fs::exists(file)) fail("{} names {}, which does not exist; use a step-N directory instead", latest.string(), name);
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
    const double bytes = static_cast<double>(shape_numel(s)) * (d.starts_with("/rng") || d.starts_with("/data") ? 8 : 4);
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

std::map<std::string, std::string> weights_attrs(const std::string& path) {
  const Hdf5File f = Hdf5File::open(path);
  std::map<std::string, std::string> attrs;
  if (f.has_attr("/meta", "tokenizer")) attrs["tokenizer"] = f.get_attr_str("/meta", "tokenizer");
  if (f.has_attr("/meta", "config")) attrs["config"] = f.get_attr_str("/meta", "config");
  return attrs;
}

}  // namespace

int run_ckpt_command(const std::vector<std::string>& args) {
  po::options_description opts(kCkptUsage);
  opts.add_options()("help,h", "print this help")("format", po::value<std::string>()->default_value("safetensors"),
                                                  "export format (safetensors)")(
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
    if (vm["format"].as<std::string>() != "safetensors")
      fail("--format {} is not supported: use safetensors", vm["format"].as<std::string>());
    const std::string path = resolve_checkpoint(rest[1]);
    verify_checkpoint_file(path);
    const WeightsFile w = load_weights(path);
    auto meta = weights_attrs(path);
    const GPTConfig& c = w.config;
    meta["format"] = "pouch";
    meta["layers"] = std::to_string(c.layers);
    meta["d_model"] = std::to_string(c.d_model);
    meta["heads"] = std::to_string(c.heads);
    meta["seq_len"] = std::to_string(c.seq_len);
    meta["vocab_size"] = std::to_string(c.vocab_size);
    meta["ln_eps"] = fmt::format("{}", c.ln_eps);
    write_safetensors(rest[2], w.params, meta);
    std::printf("wrote %zu tensors to %s\n", w.params.size(), rest[2].c_str());
    return 0;
  }
  if (action == "convert") {
    need(3);
    const std::string path = resolve_checkpoint(rest[1]);
    verify_checkpoint_file(path);
    const WeightsFile w = load_weights(path);
    save_weights(rest[2], w.config, w.params, weights_attrs(path));
    std::printf("wrote the weights of %s to %s\n", path.c_str(), rest[2].c_str());
    return 0;
  }
  fail("unknown ckpt action '{}': use inspect, verify, export or convert", action);
}

}  // namespace pouch
