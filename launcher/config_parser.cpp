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

#include "launcher/config_field.h"
#include "data/curriculum.h"
#include "data/source_weight_rules.h"
#include "launcher/phase_keys.h"
#include "phases/alignment/task_reward_scorers.h"
#include "runtime/error.h"

namespace po = boost::program_options;

namespace pouch {

namespace {

// ---- the key table ----------------------------------------------------------

using Field = ConfigField<RunConfig>;

struct KeySpec {
  std::string_view name;
  Field field;
  std::string_view help;
};

// A capture-less lambda, so it converts to the Field alternative of its type.
#define POUCH_FIELD(member) POUCH_FIELD_OF(RunConfig, member)

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
    if (field_is_bool(spec.field)) semantic->implicit_value("true");
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
  std::string expected = assign_field(spec->field, config, value);
  if (!expected.empty()) fail("{}: {} = '{}': {}", where, name, value, expected);
  origins[name] = where;
}

// ---- [phase.N] sections --------------------------------------------------------
//
// Boost never sees them: which keys a phase accepts depends on its kind, so
// they are read here (same line rules) and checked against the kind once
// every layer is applied.

constexpr std::string_view kPhaseSectionHelp =
    "phase sections are [phase.1], [phase.2], ... (consecutive, run in order)";

// "phase.12" -> 12; 0 when `section` is not a phase section; an error for a
// malformed one such as "phase" or "phase.x".
std::int64_t phase_section_index(std::string_view section, const std::string& where) {
  if (section != "phase" && !section.starts_with("phase.")) return 0;
  std::int64_t index = 0;
  const std::string_view digits = section.size() > 6 ? section.substr(6) : std::string_view();
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || index <= 0 || index > 64)
    fail("{}: [{}] is not a phase section: {}", where, section, kPhaseSectionHelp);
  return index;
}

PhaseConfig& phase_slot(RunConfig& config, std::int64_t index) {
  for (auto& p : config.phases)
    if (p.index == index) return p;
  PhaseConfig p;
  p.index = index;
  config.phases.push_back(p);
  std::sort(config.phases.begin(), config.phases.end(),
            [](const PhaseConfig& a, const PhaseConfig& b) { return a.index < b.index; });
  for (auto& q : config.phases)
    if (q.index == index) return q;
  POUCH_CHECK(false, "phase {} vanished", index);
  return config.phases.front();
}

std::string phase_key_names() {
  std::string out = "kind";
  for (const auto& spec : phase_key_specs()) out += fmt::format(" {}", spec.key);
  return out;
}

// Sets phase.<index>.<key> = value (`where` for messages).
void apply_phase_option(RunConfig& config, Origins& origins, std::set<std::string>& seen, std::int64_t index,
                        const std::string& key, const std::string& value, const std::string& where) {
  const std::string name = fmt::format("phase.{}.{}", index, key);
  if (!seen.insert(name).second) {
    if (where == kCommandLine) fail("{}: --{} is given twice: keep one", where, name);
    fail("{}: {} is set twice (at {} and {}): keep one", where, name, origins[name], where);
  }
  PhaseConfig& phase = phase_slot(config, index);
  if (key == "kind") {
    try {
      phase.kind = parse_phase_kind(value, name);
    } catch (const Error& e) {
      fail("{}: {}", where, e.what());
    }
  } else {
    const PhaseKeySpec* spec = find_phase_key(key);
    if (spec == nullptr) {
      std::string hint;
      for (const auto& s : phase_key_specs())
        if (edit_distance(key, s.key) <= std::max<std::size_t>(2, key.size() / 3)) {
          hint = fmt::format(" (did you mean '{}'?)", s.key);
          break;
        }
      fail("{}: unknown phase key '{}'{}; the keys of a [phase.N] section are: {}", where, name, hint,
           phase_key_names());
    }
    const std::string expected = assign_field(spec->field, phase, value);
    if (!expected.empty()) fail("{}: {} = '{}': {}", where, name, value, expected);
  }
  origins[name] = where;
}

// Moves the lines of [phase.N] sections out of `source` (blanking them, so
// Boost's line count is unchanged) and applies them.
void apply_phase_sections(RunConfig& config, Origins& origins, ConfigText& source) {
  std::istringstream in(source.text);
  std::string rest, section;
  std::int64_t index = 0;
  int number = 0;
  std::set<std::string> seen;
  for (std::string raw; std::getline(in, raw);) {
    ++number;
    const std::string where = fmt::format("{}:{}", source.origin, number);
    const std::string line = trim(std::string_view(raw).substr(0, raw.find('#')));
    if (!line.empty() && line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
      index = phase_section_index(section, where);
    }
    if (index == 0) {
      rest += raw + "\n";
      continue;
    }
    rest += "\n";
    const auto eq = line.find('=');
    if (line.empty() || line.front() == '[' || eq == std::string::npos) continue;  // scan_lines reports bad lines
    apply_phase_option(config, origins, seen, index, trim(std::string_view(line).substr(0, eq)),
                       trim(std::string_view(line).substr(eq + 1)), where);
  }
  source.text = rest;
}

// Takes `--phase.N.key=value` / `--phase.N.key value` / a bare bool
// `--phase.N.key` out of `args` and applies them.
std::vector<std::string> apply_phase_overrides(RunConfig& config, Origins& origins,
                                               const std::vector<std::string>& args) {
  std::vector<std::string> rest;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!arg.starts_with("--phase.")) {
      rest.push_back(arg);
      continue;
    }
    const auto eq = arg.find('=');
    const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const auto last_dot = name.rfind('.');
    const std::string where(kCommandLine);
    if (last_dot == std::string::npos || last_dot < 6)
      fail("command line: --{}: write phase overrides as --phase.N.key=value ({})", name, kPhaseSectionHelp);
    const std::int64_t index = phase_section_index(std::string_view(name).substr(0, last_dot), where);
    const std::string key = name.substr(last_dot + 1);
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else {
      const PhaseKeySpec* spec = find_phase_key(key);
      const bool bare_bool = spec != nullptr && field_is_bool(spec->field) &&
                             (i + 1 == args.size() || args[i + 1].starts_with("--"));
      if (bare_bool) {
        value = "true";
      } else {
        if (i + 1 == args.size()) fail("command line: --{} needs a value: --{}=VALUE", name, name);
        value = args[++i];
      }
    }
    apply_phase_option(config, origins, seen, index, key, value, where);
  }
  return rest;
}

void apply_text(RunConfig& config, Origins& origins, ConfigText source, const po::options_description& desc) {
  // Editors on Windows may start a UTF-8 file with a byte-order mark.
  if (source.text.starts_with("\xEF\xBB\xBF")) source.text.erase(0, 3);
  auto lines = scan_lines(source);
  apply_phase_sections(config, origins, source);
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

void apply_overrides(RunConfig& config, Origins& origins, const std::vector<std::string>& all_overrides,
                     const po::options_description& desc) {
  const std::vector<std::string> overrides = apply_phase_overrides(config, origins, all_overrides);
  if (overrides.empty()) return;
  // Boost rejects an empty value after '=', but `--train.init_from=` is the
  // natural way to clear a path; pass it as `--train.init_from ""` instead.
  std::vector<std::string> args;
  for (const auto& arg : overrides) {
    const KeySpec* spec =
        arg.size() > 3 && arg.back() == '=' ? find_key(std::string_view(arg).substr(2, arg.size() - 3)) : nullptr;
    if (spec != nullptr && !field_is_bool(spec->field)) {
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

// The [phase.N] sections: numbering, kind, required keys, keys of another
// kind, value ranges.
void validate_phases(const RunConfig& c, const Origins& origins) {
  if (c.phases.empty()) return;
  if (origins.count("train.steps"))
    fail("train.steps ({}) is set, but the run is a schedule of [phase.N] sections whose steps keys give its length: "
         "set phase.N.steps (e.g. --phase.1.steps=100) instead, or run some phases with --phases",
         set_where(origins, "train.steps"));
  for (std::size_t i = 0; i < c.phases.size(); ++i) {
    const PhaseConfig& p = c.phases[i];
    if (p.index != static_cast<std::int64_t>(i) + 1)
      fail("[phase.{}] ({}) has no [phase.{}] before it: {}", p.index,
           set_where(origins, fmt::format("phase.{}.kind", p.index)), i + 1, kPhaseSectionHelp);
  }
  for (const auto& [name, where] : origins) {
    if (!name.starts_with("phase.")) continue;
    const auto dot = name.find('.', 6);
    const std::int64_t index = std::stoll(name.substr(6, dot - 6));
    const std::string key = name.substr(dot + 1);
    const PhaseConfig& p = c.phases[static_cast<std::size_t>(index - 1)];
    if (key == "kind") continue;
    if (!origins.count(fmt::format("phase.{}.kind", index)))
      fail("[phase.{}] has no kind ({} sets {}): add kind = pretrain, ppo, grpo or continual", index,
           where == kCommandLine ? "the command line" : where, name);
    const PhaseKeySpec* spec = find_phase_key(key);
    POUCH_CHECK(spec != nullptr, "unregistered phase key {}", name);
    if (!phase_key_applies(*spec, p.kind))
      fail("{} ({}) is not a key of a {} phase: it belongs to {} phases", name,
           where == kCommandLine ? "set on the command line" : "set in " + where, phase_kind_name(p.kind),
           phase_kinds_text(spec->kinds));
  }
  for (const PhaseConfig& p : c.phases) {
    auto key = [&](std::string_view k) { return fmt::format("phase.{}.{}", p.index, k); };
    auto require = [&](bool ok, std::string_view k, const std::string& value, std::string_view rule) {
      if (!ok) fail("{} = {} ({}): {}", key(k), value, set_where(origins, key(k)), rule);
    };
    if (!origins.count(key("kind")) && !origins.empty())
      fail("[phase.{}] has no kind: add kind = pretrain, ppo, grpo or continual", p.index);
    if (!origins.count(key("steps")) && !origins.empty())
      fail("[phase.{}] ({}) has no steps: add steps = N (optimizer steps of the phase)", p.index,
           phase_kind_name(p.kind));
    require(p.steps > 0, "steps", fmt::format("{}", p.steps), "must be a positive integer");
    require(p.lr >= 0, "lr", fmt::format("{}", p.lr), "must be 0 (optim.lr) or positive");
    require(p.warmup_steps >= -1, "warmup_steps", fmt::format("{}", p.warmup_steps),
            "must be -1 (optim.warmup_steps) or 0 or more");
    require(p.eval_every >= -1, "eval_every", fmt::format("{}", p.eval_every),
            "must be -1 (train.eval_every), 0 (off) or positive");
    require(p.precision == "fp32" || p.precision == "bf16" || p.precision == "fp16", "precision", p.precision,
            "must be fp32, bf16 or fp16");
    require(p.loss_scale_init >= 1, "loss_scale_init", fmt::format("{}", p.loss_scale_init), "must be at least 1");
    require(p.loss_scale_window > 0, "loss_scale_window", fmt::format("{}", p.loss_scale_window),
            "must be positive");
    if (p.kind == PhaseKind::Pretrain) {
      const auto& q = p.pretrain;
      require(q.curriculum_degree > 0, "curriculum_degree", fmt::format("{}", q.curriculum_degree), "must be positive");
      require(q.curriculum_fraction > 0 && q.curriculum_fraction <= 1, "curriculum_fraction",
              fmt::format("{}", q.curriculum_fraction), "must be in (0, 1]");
      require(q.quality_temperature > 0, "quality_temperature", fmt::format("{}", q.quality_temperature),
              "must be positive");
      require(q.quality_growth >= 0, "quality_growth", fmt::format("{}", q.quality_growth), "must be 0 or more");
      // The phase builds the same objects; building them here fails before any work.
      const std::string prefix = fmt::format("phase.{}.", p.index);
      CurriculumConfig curriculum;
      curriculum.kind = parse_pacing_kind(q.curriculum, prefix + "curriculum");
      curriculum.min_level = static_cast<double>(q.curriculum_min_level);
      curriculum.max_level =
          static_cast<double>(q.curriculum_max_level > 0 ? q.curriculum_max_level : c.data.task_max_level);
      curriculum.degree = curriculum.kind == PacingKind::Linear ? 1.0 : q.curriculum_degree;
      curriculum.total_steps = std::max<std::int64_t>(
          1, static_cast<std::int64_t>(std::llround(q.curriculum_fraction * static_cast<double>(p.steps))));
      curriculum.boundaries = parse_step_list(q.curriculum_boundaries, prefix + "curriculum_boundaries");
      if (curriculum.kind != PacingKind::None) validate_curriculum(curriculum, CurriculumKeys::under(prefix));
      require(curriculum.max_level <= static_cast<double>(c.data.task_max_level), "curriculum_max_level",
              fmt::format("{}", q.curriculum_max_level), "must be at most data.task_max_level (0 = that)");
      SourceWeightRules::parse(q.source_weights, prefix + "source_weights");
    } else if (p.kind == PhaseKind::Ppo || p.kind == PhaseKind::Grpo) {
      const auto& a = p.align;
      require(a.prompts_per_step > 0, "prompts_per_step", fmt::format("{}", a.prompts_per_step),
              "must be a positive integer");
      require(a.samples_per_prompt > 0 && (p.kind == PhaseKind::Ppo || a.samples_per_prompt > 1),
              "samples_per_prompt", fmt::format("{}", a.samples_per_prompt),
              "must be positive (grpo: at least 2, its advantages compare the samples of a group)");
      require(a.max_new_tokens > 0, "max_new_tokens", fmt::format("{}", a.max_new_tokens), "must be positive");
      require(a.temperature > 0, "temperature", fmt::format("{}", a.temperature),
              "must be positive (rollouts sample; greedy rollouts cannot explore)");
      require(a.top_p > 0 && a.top_p <= 1, "top_p", fmt::format("{}", a.top_p), "must be in (0, 1]");
      require(a.epochs > 0, "epochs", fmt::format("{}", a.epochs), "must be positive");
      require(a.minibatches > 0, "minibatches", fmt::format("{}", a.minibatches), "must be positive");
      require(a.clip_eps > 0 && a.clip_eps < 1, "clip_eps", fmt::format("{}", a.clip_eps), "must be in (0, 1)");
      require(a.value_clip > 0, "value_clip", fmt::format("{}", a.value_clip), "must be positive");
      require(a.vf_coef >= 0, "vf_coef", fmt::format("{}", a.vf_coef), "must be 0 or more");
      require(a.gamma > 0 && a.gamma <= 1, "gamma", fmt::format("{}", a.gamma), "must be in (0, 1]");
      require(a.lambda >= 0 && a.lambda <= 1, "lambda", fmt::format("{}", a.lambda), "must be in [0, 1]");
      require(a.value_head == "shared" || a.value_head == "separate", "value_head", a.value_head,
              "must be shared or separate");
      require(a.kl_coef == -1.0 || a.kl_coef >= 0, "kl_coef", fmt::format("{}", a.kl_coef),
              "must be -1 (the kind's default) or 0 or more");
      require(a.kl_estimator.empty() || a.kl_estimator == "k1" || a.kl_estimator == "k3", "kl_estimator",
              a.kl_estimator, "must be k1 or k3 (or empty for the kind's default)");
      // GRPO's KL term sits in the loss, where k1's gradient (a constant
      // beta per token) averages to zero on-policy and regularises nothing.
      require(p.kind != PhaseKind::Grpo || a.kl_estimator != "k1", "kl_estimator", a.kl_estimator,
              "grpo keeps its KL penalty in the loss, where only k3 acts as one: use k3 (or leave it empty)");
      require(a.kl_target >= 0, "kl_target", fmt::format("{}", a.kl_target), "must be 0 (fixed) or positive");
      require(a.kl_horizon > 0, "kl_horizon", fmt::format("{}", a.kl_horizon), "must be positive");
      require(a.kl_ceiling >= 0, "kl_ceiling", fmt::format("{}", a.kl_ceiling), "must be 0 (off) or positive");
      require(a.kl_ceiling_action == "stop" || a.kl_ceiling_action == "rollback", "kl_ceiling_action",
              a.kl_ceiling_action, "must be stop or rollback");
      require(a.reward_length_budget > 0, "reward_length_budget", fmt::format("{}", a.reward_length_budget),
              "must be positive");
      require(a.reward_diversity_n > 0, "reward_diversity_n", fmt::format("{}", a.reward_diversity_n),
              "must be positive");
      require(a.reward_eval_prompts >= 0, "reward_eval_prompts", fmt::format("{}", a.reward_eval_prompts),
              "a number of prompts (0 = off)");
      make_task_reward({a.reward_weights, a.reward_lexicon, static_cast<int>(a.reward_diversity_n),
                        a.reward_length_budget},
                       key("reward_weights"));
      const std::int64_t max_level = a.prompt_max_level == 0 ? c.data.task_max_level : a.prompt_max_level;
      require(a.prompt_min_level >= 1 && a.prompt_min_level <= max_level, "prompt_min_level",
              fmt::format("{}", a.prompt_min_level), "must be between 1 and the prompt max level");
      require(a.prompt_max_level >= 0 && a.prompt_max_level <= c.data.task_max_level, "prompt_max_level",
              fmt::format("{}", a.prompt_max_level), "must be 0 (data.task_max_level) or at most data.task_max_level");
    } else {
      const auto& k = p.continual;
      require(k.new_samples > 0, "new_samples", fmt::format("{}", k.new_samples), "must be positive");
      require(k.isolation == "lora" || k.isolation == "none", "isolation", k.isolation, "must be lora or none");
      require(k.lora_rank > 0, "lora_rank", fmt::format("{}", k.lora_rank), "must be positive");
      require(k.lora_alpha > 0, "lora_alpha", fmt::format("{}", k.lora_alpha), "must be positive");
      require(k.lora_plus_ratio > 0, "lora_plus_ratio", fmt::format("{}", k.lora_plus_ratio),
              "must be positive (1 = plain LoRA)");
      require(k.replay_ratio >= 0 && k.replay_ratio < 1, "replay_ratio", fmt::format("{}", k.replay_ratio),
              "must be in [0, 1)");
      require(k.ewc_lambda >= 0, "ewc_lambda", fmt::format("{}", k.ewc_lambda), "must be 0 (off) or positive");
      require(k.ewc_lambda == 0 || k.isolation == "none", "ewc_lambda", fmt::format("{}", k.ewc_lambda),
              "EWC regularises the shared weights, which isolation = lora freezes: set isolation = none or "
              "ewc_lambda = 0");
      require(k.ewc_batches > 0, "ewc_batches", fmt::format("{}", k.ewc_batches), "must be positive");
      require(k.publish_every >= 0, "publish_every", fmt::format("{}", k.publish_every),
              "must be 0 (at the end only) or positive");
      require(k.new_level >= 1 && k.new_level <= 6, "new_level", fmt::format("{}", k.new_level),
              "must be a level of the built-in task, 1..6 (6 = a+b+c, which pre-training never shows)");
      std::string targets = k.lora_targets;
      std::size_t pos = 0;
      while (pos <= targets.size()) {
        const auto comma = targets.find(',', pos);
        const std::string t = trim(std::string_view(targets).substr(pos, comma == std::string::npos ? comma : comma - pos));
        require(t.empty() || t == "qkv" || t == "attn_proj" || t == "fc" || t == "mlp_proj", "lora_targets", targets,
                "must list projections among qkv, attn_proj, fc, mlp_proj, separated by commas");
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    }
  }
}

void validate(const RunConfig& c, const Origins& origins) {
  auto where = [&](std::string_view key) { return set_where(origins, key); };
  auto value = [&](std::string_view key) {
    const KeySpec* spec = find_key(key);
    POUCH_CHECK(spec != nullptr, "validate: no key {}", key);
    return format_field(spec->field, c);
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
  validate_phases(c, origins);
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
    // A schedule's length is its phases' steps; train.steps would conflict.
    if (spec.name == "train.steps" && !config.phases.empty()) continue;
    std::string value = format_field(spec.field, config);
    out += fmt::format("{} ={}{}\n", spec.name.substr(dot + 1), value.empty() ? "" : " ", value);
  }
  // Every key of the phase's kind, so the text reads back to an equal config.
  for (const PhaseConfig& phase : config.phases) {
    out += fmt::format("\n[phase.{}]\nkind = {}\n", phase.index, phase_kind_name(phase.kind));
    for (const auto& spec : phase_key_specs()) {
      if (!phase_key_applies(spec, phase.kind)) continue;
      std::string value = format_field(spec.field, phase);
      out += fmt::format("{} ={}{}\n", spec.key, value.empty() ? "" : " ", value);
    }
  }
  return out;
}

const std::vector<ConfigKeyInfo>& config_keys() {
  static const std::vector<ConfigKeyInfo> keys = [] {
    RunConfig defaults;
    RunConfig builtin = parse_run_config({default_config_text()}, {});
    std::vector<ConfigKeyInfo> out;
    for (const auto& spec : key_specs())
      out.push_back({std::string(spec.name), field_type_name(spec.field), format_field(spec.field, defaults),
                     format_field(spec.field, builtin), std::string(spec.help)});
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
  out +=
      "\n[phase.N] sections: the run's schedule, run in order (N = 1, 2, ...). Without them the run is one\n"
      "pretrain phase of train.steps steps. kind and steps are required; other keys belong to the kinds shown.\n"
      "Override on the command line as --phase.N.key=value.\n";
  const std::string indent(30, ' ');
  out += fmt::format("  kind{}pretrain, ppo, grpo or continual\n", std::string(indent.size() - 6, ' '));
  const PhaseConfig defaults;
  for (const auto& spec : phase_key_specs()) {
    std::string label = fmt::format("  {}", spec.key);
    label.resize(std::max(label.size() + 1, indent.size()), ' ');
    std::string value = format_field(spec.field, defaults);
    out += fmt::format("{}{}\n{}({}, {}, default {})\n", label, spec.help, indent, field_type_name(spec.field),
                       phase_kinds_text(spec.kinds), value.empty() ? "\"\"" : value);
  }
  return out;
}

bool is_config_override(std::string_view arg) {
  if (arg.size() < 3 || arg.substr(0, 2) != "--") return false;
  std::string_view name = arg.substr(2, arg.find('=') == std::string_view::npos ? arg.npos : arg.find('=') - 2);
  return name.find('.') != std::string_view::npos;
}

}  // namespace pouch
