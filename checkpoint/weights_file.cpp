#include "checkpoint/weights_file.h"

#include <fmt/format.h>

#include <array>
#include <filesystem>
#include <set>
#include <string_view>
#include <system_error>

#include "checkpoint/atomic_file.h"
#include "checkpoint/hdf5_file.h"

namespace pouch {

namespace {

constexpr const char* kModelGroup = "/model";

struct IntKey {
  const char* name;
  std::int64_t GPTConfig::*field;
};
constexpr std::array<IntKey, 5> kIntKeys{{{"layers", &GPTConfig::layers},
                                          {"d_model", &GPTConfig::d_model},
                                          {"heads", &GPTConfig::heads},
                                          {"seq_len", &GPTConfig::seq_len},
                                          {"vocab_size", &GPTConfig::vocab_size}}};

bool is_reserved_attr(std::string_view key) {
  if (key == "format" || key == "format_version" || key == "ln_eps") return true;
  for (const auto& k : kIntKeys)
    if (key == k.name) return true;
  return false;
}

std::string dataset_path(const std::string& name) { return fmt::format("{}/{}", kModelGroup, name); }

void check_model_group(const Hdf5File& file) {
  const std::string& path = file.path();
  if (file.kind(kModelGroup) != Hdf5Kind::Group)
    fail(
        "{}: no group '/model': a pouch weights file keeps one float32 dataset per parameter in /model "
        "and the model config as attributes of /model",
        path);
  if (file.has_attr(kModelGroup, "format")) {
    std::string format = file.get_attr_str(kModelGroup, "format");
    if (format != kWeightsFormat)
      fail("{}: /model attribute 'format' is '{}', not '{}': this is not a pouch weights file", path, format,
           kWeightsFormat);
  }
  if (file.has_attr(kModelGroup, "format_version")) {
    std::int64_t version = file.get_attr_i64(kModelGroup, "format_version");
    if (version < 1 || version > kWeightsFormatVersion)
      fail("{}: /model attribute 'format_version' is {}, this pouch reads version {}: use a matching pouch", path,
           version, kWeightsFormatVersion);
  }
}

GPTConfig read_config(const Hdf5File& file) {
  GPTConfig config;
  for (const auto& key : kIntKeys) {
    if (!file.has_attr(kModelGroup, key.name))
      fail(
          "{}: /model has no attribute '{}' (part of the model config): add it as an integer, "
          "e.g. in h5py: f['model'].attrs['{}'] = {}",
          file.path(), key.name, key.name, config.*key.field);
    std::int64_t value = file.get_attr_i64(kModelGroup, key.name);
    if (value <= 0) fail("{}: /model attribute '{}' is {}: it must be positive", file.path(), key.name, value);
    config.*key.field = value;
  }
  if (config.d_model % config.heads != 0)
    fail("{}: /model attributes d_model={} and heads={}: d_model must be divisible by heads", file.path(),
         config.d_model, config.heads);
  if (file.has_attr(kModelGroup, "ln_eps")) {
    double eps = file.get_attr_f64(kModelGroup, "ln_eps");
    if (!(eps > 0)) fail("{}: /model attribute 'ln_eps' is {}: it must be positive", file.path(), eps);
    config.ln_eps = static_cast<float>(eps);
  }
  return config;
}

}  // namespace

void write_model_group(Hdf5File& file, const GPTConfig& config, const NamedTensors& params,
                       const std::map<std::string, std::string>& string_attrs) {
  std::set<std::string_view> seen;
  for (const auto& [name, tensor] : params) {
    POUCH_CHECK(!name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos,
                "parameter name '{}' cannot be an HDF5 dataset name under /model", name);
    POUCH_CHECK(seen.insert(name).second, "parameter '{}' given twice", name);
    POUCH_CHECK(tensor.defined() && tensor.dtype() == DType::F32 && tensor.device() == Device::CPU,
                "parameter '{}' must be an f32 CPU tensor", name);
  }
  for (const auto& [key, value] : string_attrs)
    POUCH_CHECK(!is_reserved_attr(key), "string attribute '{}' collides with a reserved /model attribute", key);

  file.create_group(kModelGroup);
  write_model_attrs(file, config, string_attrs);
  for (const auto& [name, tensor] : params) file.write_dataset(dataset_path(name), tensor);
}

void write_model_attrs(Hdf5File& file, const GPTConfig& config,
                       const std::map<std::string, std::string>& string_attrs) {
  for (const auto& [key, value] : string_attrs)
    POUCH_CHECK(!is_reserved_attr(key), "string attribute '{}' collides with a reserved /model attribute", key);
  file.set_attr_str(kModelGroup, "format", kWeightsFormat);
  file.set_attr_i64(kModelGroup, "format_version", kWeightsFormatVersion);
  for (const auto& key : kIntKeys) file.set_attr_i64(kModelGroup, key.name, config.*key.field);
  file.set_attr_f32(kModelGroup, "ln_eps", config.ln_eps);
  for (const auto& [key, value] : string_attrs) file.set_attr_str(kModelGroup, key, value);
}

void save_weights(const std::string& path, const GPTConfig& config, const NamedTensors& params,
                  const std::map<std::string, std::string>& string_attrs) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::create_directories(parent, ec) && ec)
    fail("cannot create directory '{}' for weights file '{}': {}", parent.string(), path, ec.message());

  const std::string tmp = temporary_path(path);
  try {
    Hdf5File file = Hdf5File::create(tmp);
    write_model_group(file, config, params, string_attrs);
    file.close();
    publish(tmp, path);
  } catch (...) {
    std::filesystem::remove(tmp, ec);
    throw;
  }
}

GPTConfig read_model_config(const Hdf5File& file) {
  check_model_group(file);
  return read_config(file);
}

GPTConfig read_weights_config(const std::string& path) { return read_model_config(Hdf5File::open(path)); }

WeightsFile read_model_group(const Hdf5File& file) {
  check_model_group(file);
  WeightsFile out;
  out.config = read_config(file);
  for (const auto& key : file.attr_names(kModelGroup)) {
    if (is_reserved_attr(key) || file.attr_kind(kModelGroup, key) != Hdf5AttrKind::String) continue;
    out.attrs[key] = file.get_attr_str(kModelGroup, key);
  }
  for (const auto& name : file.children(kModelGroup)) {
    std::string dset = dataset_path(name);
    if (file.kind(dset) != Hdf5Kind::Dataset)
      fail(
          "{}: '{}' is not a dataset: parameters must be datasets directly under /model, named like "
          "'blocks.0.attn.qkv.weight'",
          file.path(), dset);
    out.params.emplace_back(name, file.read_dataset(dset, DType::F32));
  }
  return out;
}

WeightsFile load_weights(const std::string& path) { return read_model_group(Hdf5File::open(path)); }

Tensor read_weights_tensor(const std::string& path, const std::string& name) {
  Hdf5File file = Hdf5File::open(path);
  check_model_group(file);
  std::string dset = dataset_path(name);
  if (file.kind(dset) != Hdf5Kind::Dataset)
    fail("{}: no parameter '{}' (dataset '{}'): check the parameter name", path, name, dset);
  return file.read_dataset(dset, DType::F32);
}

}  // namespace pouch
