#include "launcher/config_parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <system_error>
#include <type_traits>
#include <variant>

#include "runtime/error.h"

namespace po = boost::program_options;

namespace pouch {

namespace {

// ---- the key table ----------------------------------------------------------

// A key's field, reached through an accessor so nested structs need no
// member-pointer chains; the alternative also fixes the value's type.
using Field = std::variant<std::int64_t& (*)(RunConfig&), std::uint64_t& (*)(RunConfig&), float& (*)(RunConfig&),
                           double& (*)(RunConfig&), bool& (*)(RunConfig&), std::string& (*)(RunConfig&),
                           LrSchedule& (*)(RunConfig&)>;

struct KeySpec {
  std::string_view name;
  Field field;
  std::string_view help;
};

// A capture-less lambda, so it converts to the Field alternative of its type.
#define POUCH_FIELD(member) \
  [](RunConfig & c) -> auto& { return c.member; }

const std::vector<KeySpec>& key_specs() {
  static const std::vector<KeySpec> specs = {
      {"model.layers", POUCH_FIELD(model.layers), "transformer blocks"},
      {"model.d_model", POUCH_FIELD(model.d_model), "embedding width C; must be divisible by model.heads"},
      {"model.heads", POUCH_FIELD(model.heads), "attention heads (head size = d_model / heads)"},
      {"model.seq_len", POUCH_FIELD(model.seq_len), "context length T (rows of the position embedding)"},
      {"model.vocab_size", POUCH_FIELD(model.vocab_size), "vocabulary size V"},
      {"model.ln_eps", POUCH_FIELD(model.ln_eps), "LayerNorm epsilon"},

      {"train.name", POUCH_FIELD(train.name), "run name; the run directory defaults to runs/<name>"},
      {"train.run_dir", POUCH_FIELD(train.run_dir),
       "run directory (config used, metrics, final model.h5); empty = runs/<name>"},
      {"train.batch_size", POUCH_FIELD(train.batch_size), "sequences per micro-batch"},
      {"train.grad_accum", POUCH_FIELD(train.grad_accum), "micro-batches per optimizer step"},
      {"train.steps", POUCH_FIELD(train.steps), "optimizer steps"},
      {"train.seed", POUCH_FIELD(train.seed), "seed of every random stream (init, data order, sampling)"},
      {"train.init_from", POUCH_FIELD(train.init_from), "HDF5 weights file to start from; empty = random init"},
      {"train.recompute", POUCH_FIELD(train.recompute),
       "activation checkpointing: re-run each block's forward in backward (same results, less memory)"},
      {"train.eval_every", POUCH_FIELD(train.eval_every),
       "optimizer steps between evaluations (also at step 0 and the last step); 0 = no evaluation"},
      {"train.threads", POUCH_FIELD(train.threads), "OpenMP/BLAS threads; 0 = all cores"},

      {"data.path", POUCH_FIELD(data.path), "token shard or glob of shards; empty = the built-in reasoning task"},
      {"data.val_path", POUCH_FIELD(data.val_path),
       "held-out shard(s) for validation loss; empty = none (or the built-in task's held-out split)"},
      {"data.shuffle", POUCH_FIELD(data.shuffle),
       "seeded shuffle of training sequences; false = the file's order (llm.c's loader order)"},
      {"data.task_max_level", POUCH_FIELD(data.task_max_level), "built-in task: difficulty levels 1..N"},
      {"data.task_train_samples", POUCH_FIELD(data.task_train_samples), "built-in task: generated training samples"},
      {"data.task_eval_per_level", POUCH_FIELD(data.task_eval_per_level),
       "built-in task: held-out problems per level for exact-answer accuracy"},
      {"data.task_corrupt_fraction", POUCH_FIELD(data.task_corrupt_fraction),
       "built-in task: fraction of deliberately wrong, low-quality samples, in [0, 1)"},

      {"optim.lr", POUCH_FIELD(optim.lr), "peak learning rate (AdamW)"},
      {"optim.beta1", POUCH_FIELD(optim.beta1), "AdamW beta1, in [0, 1)"},
      {"optim.beta2", POUCH_FIELD(optim.beta2), "AdamW beta2, in [0, 1)"},
      {"optim.eps", POUCH_FIELD(optim.eps), "AdamW epsilon"},
      {"optim.weight_decay", POUCH_FIELD(optim.weight_decay),
       "decoupled weight decay, applied to parameters with >= 2 dimensions only"},
      {"optim.grad_clip", POUCH_FIELD(optim.grad_clip), "clip the global gradient norm to this; 0 = off"},
      {"optim.warmup_steps", POUCH_FIELD(optim.warmup_steps), "linear learning-rate warmup steps"},
      {"optim.schedule", POUCH_FIELD(optim.schedule), "learning rate after warmup: constant or cosine decay"},
      {"optim.min_lr_ratio", POUCH_FIELD(optim.min_lr_ratio),
       "cosine decays to lr * min_lr_ratio at the last step, in [0, 1]"},

      {"log.metrics", POUCH_FIELD(log.metrics), "JSON-lines metrics file; empty = <run_dir>/metrics.jsonl"},
      {"log.every", POUCH_FIELD(log.every), "progress line every N optimizer steps"},
      {"log.peak_gflops", POUCH_FIELD(log.peak_gflops), "machine peak GFLOP/s for MFU; 0 = measure sgemm at start-up"},

      {"parallel.tp", POUCH_FIELD(parallel.tp),
       "tensor-parallel degree: consecutive ranks split heads, MLP width and vocabulary; must divide heads"},
      {"parallel.dp", POUCH_FIELD(parallel.dp),
       "data-parallel degree; 0 = world size / tp; tp * dp must equal the number of ranks"},
      {"parallel.timeout_s", POUCH_FIELD(parallel.timeout_s),
       "deadline of every collective in seconds; past it the job prints its flight record and aborts"},
      {"parallel.bucket_mb", POUCH_FIELD(parallel.bucket_mb),
       "gradient bucket size (MiB) of the data-parallel all-reduce"},
      {"parallel.overlap", POUCH_FIELD(parallel.overlap),
       "all-reduce each gradient bucket during backward as soon as it is complete (false: after backward)"},

      {"checkpoint.dir", POUCH_FIELD(checkpoint.dir), "checkpoint directory; empty = <run_dir>/checkpoints"},
      {"checkpoint.every_steps", POUCH_FIELD(checkpoint.every_steps),
       "steps between checkpoints; 0 = only at the end of the run and on SIGUSR1/SIGTERM"},
      {"checkpoint.keep_last", POUCH_FIELD(checkpoint.keep_last),
       "newest checkpoints to keep (milestones aside); 0 = keep all"},
      {"checkpoint.keep_every", POUCH_FIELD(checkpoint.keep_every),
       "milestones: checkpoints at multiples of this step are never deleted; 0 = none"},
      {"checkpoint.signal_timeout_s", POUCH_FIELD(checkpoint.signal_timeout_s),
       "deadline (s) of the checkpoint SIGUSR1/SIGTERM asks for; past it the job exits with the previous one intact"},
  };
  return specs;
}

#undef POUCH_FIELD

constexpr std::string_view kSections[] = {"model", "train", "data", "optim", "log", "parallel", "checkpoint"};

const KeySpec* find_key(std::string_view name) {
  for (const auto& spec : key_specs())
    if (spec.name == name) return &spec;
  return nullptr;
}

template <typename T>
struct TypeOf;
template <typename T>
struct TypeOf<T& (*)(RunConfig&)> {
  using type = T;
};

std::string type_name(const Field& field) {
  return std::visit(
      [](auto get) -> std::string {
        using T = typename TypeOf<decltype(get)>::type;
        if constexpr (std::is_same_v<T, std::int64_t>) return "int";
        if constexpr (std::is_same_v<T, std::uint64_t>) return "uint";
        if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) return "float";
        if constexpr (std::is_same_v<T, bool>) return "bool";
        if constexpr (std::is_same_v<T, std::string>) return "string";
        if constexpr (std::is_same_v<T, LrSchedule>) return "constant|cosine";
      },
      field);
}

// ---- values -------------------------------------------------------------------

std::string format_value(const Field& field, const RunConfig& config) {
  // The accessors take a mutable RunConfig only so one table serves reading
  // and writing; this path only reads.
  RunConfig& c = const_cast<RunConfig&>(config);
  return std::visit(
      [&](auto get) -> std::string {
        const auto& v = get(c);
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>)
          return v ? "true" : "false";
        else if constexpr (std::is_same_v<T, LrSchedule>)
          return v == LrSchedule::Constant ? "constant" : "cosine";
        else
          return fmt::format("{}", v);  // floats: shortest text that reads back to the same value
      },
      field);
}

template <typename T>
bool parse_number(std::string_view text, T& out) {
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  if (text.empty()) return false;
  if constexpr (std::is_unsigned_v<T>) {
    if (text[0] == '-') return false;  // from_chars would not wrap, but say "no" plainly
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  if constexpr (std::is_floating_point_v<T>) return std::isfinite(out);
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return out;
}

// Sets the field from text; returns what was expected when the text does not
// parse, or "" on success.
std::string assign_value(const Field& field, RunConfig& config, const std::string& text) {
  return std::visit(
      [&](auto get) -> std::string {
        auto& v = get(config);
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          v = text;
          return "";
        } else if constexpr (std::is_same_v<T, bool>) {
          std::string t = lower(text);
          if (t == "true" || t == "1" || t == "yes" || t == "on")
            v = true;
          else if (t == "false" || t == "0" || t == "no" || t == "off")
            v = false;
          else
            return "expected true or false";
          return "";
        } else if constexpr (std::is_same_v<T, LrSchedule>) {
          std::string t = lower(text);
          if (t == "constant")
            v = LrSchedule::Constant;
          else if (t == "cosine")
            v = LrSchedule::Cosine;
          else
            return "expected constant or cosine";
          return "";
        } else if constexpr (std::is_same_v<T, std::uint64_t>) {
          return parse_number(text, v) ? "" : "expected a non-negative integer";
        } else if constexpr (std::is_integral_v<T>) {
          return parse_number(text, v) ? "" : "expected an integer";
        } else {
          return parse_number(text, v) ? "" : "expected a finite number such as 0.001 or 1e-3";
        }
      },
      field);
}

// ---- suggestions for unknown keys ------------------------------------------------

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// "did you mean 'model.layers'?" or the list of valid names, for an unknown
// `name` (with or without a section).
std::string suggest_key(std::string_view name, std::string_view prefix) {
  auto dot = name.find('.');
  std::string_view section = dot == std::string_view::npos ? std::string_view() : name.substr(0, dot);
  std::string_view key = dot == std::string_view::npos ? name : name.substr(dot + 1);

  if (dot != std::string_view::npos &&
      std::find(std::begin(kSections), std::end(kSections), section) == std::end(kSections)) {
    std::string_view best = kSections[0];
    for (auto s : kSections)
      if (edit_distance(section, s) < edit_distance(section, best)) best = s;
    return fmt::format("unknown section [{}]; the sections are [model] [train] [data] [optim] [log] [parallel] [checkpoint]{}", section,
                       edit_distance(section, best) <= 2 ? fmt::format(" (did you mean [{}]?)", best) : "");
  }

  // The same key in another section, or a key without its section; then an
  // abbreviation of a key in the same section.
  for (const auto& spec : key_specs()) {
    std::string_view spec_key = spec.name.substr(spec.name.find('.') + 1);
    if (spec_key == key) return fmt::format("did you mean '{}{}'?", prefix, spec.name);
  }
  for (const auto& spec : key_specs()) {
    if (!key.empty() && spec.name.substr(0, spec.name.find('.')) == section &&
        spec.name.substr(section.size() + 1).starts_with(key))
      return fmt::format("did you mean '{}{}'?", prefix, spec.name);
  }
  const KeySpec* best = nullptr;
  std::size_t best_distance = 0;
  for (const auto& spec : key_specs()) {
    std::size_t d = edit_distance(name, spec.name);
    if (best == nullptr || d < best_distance) best = &spec, best_distance = d;
  }
  if (best != nullptr && best_distance <= std::max<std::size_t>(2, name.size() / 3))
    return fmt::format("did you mean '{}{}'?", prefix, best->name);

  std::string in_section;
  for (const auto& spec : key_specs())
    if (spec.name.substr(0, spec.name.find('.')) == section)
      in_section += fmt::format("{}{}", in_section.empty() ? "" : " ", spec.name.substr(dot + 1));
  if (!in_section.empty()) return fmt::format("the keys of [{}] are: {}", section, in_section);
  return "run `pouch train --help` for every key";
}

// ---- parsing one layer -----------------------------------------------------------

po::options_description make_description() {
  po::options_description desc("config keys");
  for (const auto& spec : key_specs()) {
    std::string name(spec.name);
    auto* semantic = po::value<std::string>();
    if (std::holds_alternative<bool& (*)(RunConfig&)>(spec.field)) semantic->implicit_value("true");
    desc.add_options()(name.c_str(), semantic, std::string(spec.help).c_str());
  }
  return desc;
}

// Where each key was last set, for messages: "file.ini:12" or
// kCommandLine; a key in no layer has its struct default.
using Origins = std::map<std::string, std::string>;
constexpr std::string_view kCommandLine = "command line";

std::string set_where(const Origins& origins, std::string_view key) {
  auto it = origins.find(std::string(key));
  if (it == origins.end()) return "the default";
  return it->second == kCommandLine ? "set on the command line" : "set in " + it->second;
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

// Boost's INI parser reports neither line numbers nor, for a bad line, what
// is wrong with it; this pass over the same text (with Boost's rules: '#'
// starts a comment anywhere, `[section]` prefixes the keys below it) finds
// the line of every key and rejects malformed lines.
std::map<std::string, std::vector<int>> scan_lines(const ConfigText& source) {
  std::map<std::string, std::vector<int>> lines;
  std::istringstream in(source.text);
  std::string section;
  int number = 0;
  for (std::string raw; std::getline(in, raw);) {
    ++number;
    std::string line = trim(std::string_view(raw).substr(0, raw.find('#')));
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']' || line.size() < 3)
        fail("{}:{}: '{}' is not a section header: write it as [model], [train], [data], [optim], [log], [parallel] or [checkpoint]",
             source.origin, number, line);
      section = line.substr(1, line.size() - 2);  // untrimmed, as Boost does
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string::npos)
      fail("{}:{}: '{}' is neither 'key = value' nor '[section]' (comments start with #)", source.origin, number, line);
    std::string key = trim(std::string_view(line).substr(0, eq));
    if (key.empty()) fail("{}:{}: '{}' has no key before '='", source.origin, number, line);
    lines[section.empty() ? key : section + "." + key].push_back(number);
  }
  return lines;
}

void apply_option(RunConfig& config, Origins& origins, std::set<std::string>& seen, const std::string& name,
                  const std::string& value, const std::string& where) {
  if (!seen.insert(name).second) {
    if (where == kCommandLine) fail("{}: --{} is given twice: keep one", where, name);
    fail("{}: {} is set twice (at {} and {}): keep one", where, name, origins[name], where);
  }
  const KeySpec* spec = find_key(name);
  POUCH_CHECK(spec != nullptr, "Boost accepted unregistered key {}", name);
  std::string expected = assign_value(spec->field, config, value);
  if (!expected.empty()) fail("{}: {} = '{}': {}", where, name, value, expected);
  origins[name] = where;
}

void apply_text(RunConfig& config, Origins& origins, ConfigText source, const po::options_description& desc) {
  // Editors on Windows may start a UTF-8 file with a byte-order mark.
  if (source.text.starts_with("\xEF\xBB\xBF")) source.text.erase(0, 3);
  auto lines = scan_lines(source);
  auto line_of = [&](const std::string& name, std::size_t occurrence = 0) {
    auto it = lines.find(name);
    if (it == lines.end() || it->second.empty()) return source.origin;
    return fmt::format("{}:{}", source.origin, it->second[std::min(occurrence, it->second.size() - 1)]);
  };

  std::istringstream in(source.text);
  po::parsed_options parsed(&desc);
  try {
    parsed = po::parse_config_file(in, desc, /*allow_unregistered=*/false);
  } catch (const po::unknown_option& e) {
    std::string name = e.get_option_name();
    fail("{}: unknown config key '{}': {}", line_of(name), name, suggest_key(name, ""));
  } catch (const po::error& e) {
    fail("{}: cannot read the config: {}", source.origin, e.what());
  }

  std::set<std::string> seen;
  std::map<std::string, std::size_t> occurrences;
  for (const auto& option : parsed.options) {
    POUCH_CHECK(option.value.size() == 1, "config option {} with {} values", option.string_key, option.value.size());
    apply_option(config, origins, seen, option.string_key, option.value[0],
                 line_of(option.string_key, occurrences[option.string_key]++));
  }
}

void apply_overrides(RunConfig& config, Origins& origins, const std::vector<std::string>& overrides,
                     const po::options_description& desc) {
  if (overrides.empty()) return;
  // Boost rejects an empty value after '=', but `--train.init_from=` is the
  // natural way to clear a path; pass it as `--train.init_from ""` instead.
  std::vector<std::string> args;
  for (const auto& arg : overrides) {
    const KeySpec* spec =
        arg.size() > 3 && arg.back() == '=' ? find_key(std::string_view(arg).substr(2, arg.size() - 3)) : nullptr;
    if (spec != nullptr && !std::holds_alternative<bool& (*)(RunConfig&)>(spec->field)) {
      args.push_back(arg.substr(0, arg.size() - 1));
      args.emplace_back();
    } else {
      args.push_back(arg);
    }
  }

  po::parsed_options parsed(&desc);
  namespace style = po::command_line_style;
  try {
    // No abbreviations: --model.lay=4 must not silently mean model.layers.
    parsed = po::command_line_parser(args)
                 .options(desc)
                 .style(style::allow_long | style::long_allow_adjacent | style::long_allow_next)
                 .run();
  } catch (const po::unknown_option& e) {
    std::string name = e.get_option_name();
    name.erase(0, name.find_first_not_of('-'));
    name.erase(std::min(name.find('='), name.size()));
    fail("command line: unknown config key '{}' (--{}): {}", name, name, suggest_key(name, "--"));
  } catch (const po::error& e) {
    fail("command line: {}: write config overrides as --section.key=value", e.what());
  }

  std::set<std::string> seen;
  for (const auto& option : parsed.options) {
    if (option.string_key.empty() || option.position_key >= 0)
      fail("command line: unexpected argument '{}': write config overrides as --section.key=value",
           option.original_tokens.empty() ? std::string() : option.original_tokens[0]);
    // A bare --train.recompute arrives without a value; its implicit value is "true".
    POUCH_CHECK(option.value.size() <= 1, "override {} with {} values", option.string_key, option.value.size());
    std::string value = option.value.empty() ? "true" : option.value[0];
    apply_option(config, origins, seen, option.string_key, value, std::string(kCommandLine));
  }
}

// ---- validation ---------------------------------------------------------------

void validate(const RunConfig& c, const Origins& origins) {
  auto where = [&](std::string_view key) { return set_where(origins, key); };
  auto value = [&](std::string_view key) {
    const KeySpec* spec = find_key(key);
    POUCH_CHECK(spec != nullptr, "validate: no key {}", key);
    return format_value(spec->field, c);
  };
  auto require = [&](bool ok, std::string_view key, std::string_view rule) {
    if (!ok) fail("{} = {} ({}): {}", key, value(key), where(key), rule);
  };

  require(c.model.layers > 0, "model.layers", "must be a positive integer");
  require(c.model.d_model > 0, "model.d_model", "must be a positive integer");
  require(c.model.heads > 0, "model.heads", "must be a positive integer");
  require(c.model.seq_len > 0, "model.seq_len", "must be a positive integer");
  require(c.model.vocab_size > 0, "model.vocab_size", "must be a positive integer");
  require(c.model.ln_eps > 0, "model.ln_eps", "must be positive");
  if (c.model.d_model % c.model.heads != 0)
    fail("model.d_model = {} ({}) is not divisible by model.heads = {} ({}): choose heads that divide d_model",
         c.model.d_model, where("model.d_model"), c.model.heads, where("model.heads"));

  require(!c.train.name.empty(), "train.name", "must not be empty (it names the run directory runs/<name>)");
  require(c.train.batch_size > 0, "train.batch_size", "must be a positive integer");
  require(c.train.grad_accum > 0, "train.grad_accum", "must be a positive integer");
  require(c.train.steps > 0, "train.steps", "must be a positive integer");
  require(c.train.eval_every >= 0, "train.eval_every", "must be 0 (off) or a positive number of steps");
  require(c.train.threads >= 0, "train.threads", "must be 0 (all cores) or a positive thread count");

  require(c.data.task_max_level > 0, "data.task_max_level", "must be a positive integer");
  require(c.data.task_train_samples > 0, "data.task_train_samples", "must be a positive integer");
  require(c.data.task_eval_per_level >= 0, "data.task_eval_per_level", "must be 0 or more");
  require(c.data.task_corrupt_fraction >= 0 && c.data.task_corrupt_fraction < 1, "data.task_corrupt_fraction",
          "must be in [0, 1)");

  require(c.optim.lr > 0, "optim.lr", "must be positive");
  require(c.optim.beta1 >= 0 && c.optim.beta1 < 1, "optim.beta1", "must be in [0, 1)");
  require(c.optim.beta2 >= 0 && c.optim.beta2 < 1, "optim.beta2", "must be in [0, 1)");
  require(c.optim.eps > 0, "optim.eps", "must be positive");
  require(c.optim.weight_decay >= 0, "optim.weight_decay", "must be 0 or more");
  require(c.optim.grad_clip >= 0, "optim.grad_clip", "must be 0 (off) or positive");
  require(c.optim.warmup_steps >= 0, "optim.warmup_steps", "must be 0 or more");
  require(c.optim.min_lr_ratio >= 0 && c.optim.min_lr_ratio <= 1, "optim.min_lr_ratio", "must be in [0, 1]");

  require(c.log.every > 0, "log.every", "must be a positive number of steps");
  require(c.log.peak_gflops >= 0, "log.peak_gflops", "must be 0 (measure) or positive");

  require(c.parallel.tp > 0, "parallel.tp", "must be a positive integer");
  require(c.parallel.dp >= 0, "parallel.dp", "must be 0 (derived from the number of ranks) or positive");
  require(c.parallel.timeout_s > 0, "parallel.timeout_s", "must be positive");
  require(c.parallel.bucket_mb > 0, "parallel.bucket_mb", "must be positive");
  require(c.checkpoint.every_steps >= 0, "checkpoint.every_steps", "must be 0 (end and signals only) or positive");
  require(c.checkpoint.keep_last >= 0, "checkpoint.keep_last", "must be 0 (keep all) or positive");
  require(c.checkpoint.keep_every >= 0, "checkpoint.keep_every", "must be 0 (no milestones) or positive");
  require(c.checkpoint.signal_timeout_s > 0, "checkpoint.signal_timeout_s", "must be positive");
  if (c.model.heads % c.parallel.tp != 0)
    fail("model.heads = {} ({}) is not divisible by parallel.tp = {} ({}): each tensor-parallel rank holds whole "
         "heads; choose tp dividing heads",
         c.model.heads, where("model.heads"), c.parallel.tp, where("parallel.tp"));
  if ((4 * c.model.d_model) % c.parallel.tp != 0)
    fail("4 * model.d_model = {} ({}) is not divisible by parallel.tp = {} ({}): the MLP's hidden width must split "
         "evenly",
         4 * c.model.d_model, where("model.d_model"), c.parallel.tp, where("parallel.tp"));

  // INI cannot hold these: '#' starts a comment and values are trimmed, so
  // the config written to the run directory would not read back the same.
  for (const auto& spec : key_specs()) {
    if (!std::holds_alternative<std::string& (*)(RunConfig&)>(spec.field)) continue;
    const std::string& s = std::get<std::string& (*)(RunConfig&)>(spec.field)(const_cast<RunConfig&>(c));
    if (s.find_first_of("#\n\r") != std::string::npos || (!s.empty() && (trim(s) != s)))
      fail("{} = '{}' ({}): a value must not contain '#' or a line break, or start or end with spaces", spec.name, s,
           where(spec.name));
  }
}

}  // namespace

ConfigText read_config_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail("config file '{}' does not exist: check the --config path", path);
  if (std::filesystem::is_directory(path, ec)) fail("config file '{}' is a directory: give an .ini file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read config file '{}': check its permissions", path);
  std::ostringstream text;
  text << in.rdbuf();
  return {path, text.str()};
}

ConfigText default_config_text() { return {"built-in r1-tiny config", kDefaultConfigText}; }

RunConfig parse_run_config(const std::vector<ConfigText>& texts, const std::vector<std::string>& overrides) {
  po::options_description desc = make_description();
  RunConfig config;
  Origins origins;
  for (const auto& text : texts) apply_text(config, origins, text, desc);
  apply_overrides(config, origins, overrides, desc);
  validate(config, origins);
  return config;
}

RunConfig load_run_config(const std::vector<std::string>& config_paths, const std::vector<std::string>& overrides) {
  std::vector<ConfigText> texts;
  if (config_paths.empty()) texts.push_back(default_config_text());
  for (const auto& path : config_paths) texts.push_back(read_config_file(path));
  return parse_run_config(texts, overrides);
}

void validate_run_config(const RunConfig& config) { validate(config, {}); }

std::string run_config_to_ini(const RunConfig& config) {
  std::string out;
  std::string_view section;
  for (const auto& spec : key_specs()) {
    auto dot = spec.name.find('.');
    if (spec.name.substr(0, dot) != section) {
      section = spec.name.substr(0, dot);
      out += fmt::format("{}[{}]\n", out.empty() ? "" : "\n", section);
    }
    std::string value = format_value(spec.field, config);
    out += fmt::format("{} ={}{}\n", spec.name.substr(dot + 1), value.empty() ? "" : " ", value);
  }
  return out;
}

const std::vector<ConfigKeyInfo>& config_keys() {
  static const std::vector<ConfigKeyInfo> keys = [] {
    RunConfig defaults;
    RunConfig builtin = parse_run_config({default_config_text()}, {});
    std::vector<ConfigKeyInfo> out;
    for (const auto& spec : key_specs())
      out.push_back({std::string(spec.name), type_name(spec.field), format_value(spec.field, defaults),
                     format_value(spec.field, builtin), std::string(spec.help)});
    return out;
  }();
  return keys;
}

std::string describe_config_keys() {
  std::string out =
      "Config keys: set them in an INI file ([section] then key = value) or on the command line as\n"
      "--section.key=value (later wins: struct defaults < --config files, or the built-in r1-tiny config\n"
      "when none is given < command line). 'default' is what a --config file that omits the key gets;\n"
      "'r1-tiny' is shown where the built-in config differs.\n";
  std::string_view section;
  for (const auto& key : config_keys()) {
    std::string_view name = key.name;
    auto dot = name.find('.');
    if (name.substr(0, dot) != section) {
      section = name.substr(0, dot);
      out += fmt::format("\n[{}]\n", section);
    }
    std::string value = key.default_value.empty() ? "\"\"" : key.default_value;
    if (key.builtin_value != key.default_value)
      value += fmt::format(", r1-tiny {}", key.builtin_value.empty() ? "\"\"" : key.builtin_value);
    // Padding by hand: GCC 12 warns falsely inside fmt 9's parser of "{:<N}".
    const std::string indent(30, ' ');
    std::string label = "  " + key.name;
    label.resize(std::max(label.size() + 1, indent.size()), ' ');
    out += fmt::format("{}{}\n{}({}, default {})\n", label, key.help, indent, key.type, value);
  }
  return out;
}

bool is_config_override(std::string_view arg) {
  if (arg.size() < 3 || arg.substr(0, 2) != "--") return false;
  std::string_view name = arg.substr(2, arg.find('=') == std::string_view::npos ? arg.npos : arg.find('=') - 2);
  return name.find('.') != std::string_view::npos;
}

}  // namespace pouch
