#pragma once
// The weights file: one HDF5 file holding a model's parameters and config.
//
//   /model                      group; attributes:
//     format = "pouch-weights"  (string; optional when reading)
//     format_version = 1        (int64; optional when reading)
//     layers, d_model, heads, seq_len, vocab_size   (int64, required)
//     ln_eps                    (float32; optional, default 1e-5)
//     any string attributes the caller adds (the launcher adds `tokenizer`,
//     the tokenizer as JSON, and `config`, the run's INI text)
//   /model/<parameter name>     float32 dataset per parameter, shape = the
//                               parameter's full logical shape, e.g.
//                               /model/blocks.0.attn.qkv.weight  [3C, C]
//
// A file written by h5py in this layout loads; datasets of any float type are
// converted to f32. Full training-state checkpoints keep the same /model
// group and add /meta, /optim, /rng, ... beside it.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "model/gpt_config.h"
#include "runtime/tensor.h"

namespace pouch {

inline constexpr const char* kWeightsFormat = "pouch-weights";
inline constexpr std::int64_t kWeightsFormatVersion = 1;

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct WeightsFile {
  GPTConfig config;
  NamedTensors params;                       // in the order they were written (by name for h5py files)
  std::map<std::string, std::string> attrs;  // string attributes of /model except `format`
};

// Writes `path` atomically (to path.tmp, fsync, rename); creates the parent
// directory. Parameters must be f32 CPU tensors with names free of '/'.
// `string_attrs` must not use the reserved names above.
void save_weights(const std::string& path, const GPTConfig& config, const NamedTensors& params,
                  const std::map<std::string, std::string>& string_attrs = {});

// Reads every dataset of /model and the config. Errors name the file and the
// dataset or attribute, and say how to fix it.
WeightsFile load_weights(const std::string& path);

// Only the config attributes of /model.
GPTConfig read_weights_config(const std::string& path);

// One parameter, as f32.
Tensor read_weights_tensor(const std::string& path, const std::string& name);

class Hdf5File;
// The /model group alone, inside a file someone else creates, publishes or
// opens: a full checkpoint writes its /model exactly as a weights file does,
// so a checkpoint is also a loadable weights file.
void write_model_group(Hdf5File& file, const GPTConfig& config, const NamedTensors& params,
                       const std::map<std::string, std::string>& string_attrs);
WeightsFile read_model_group(const Hdf5File& file);
// The config attributes of /model (read_weights_config on an open file).
GPTConfig read_model_config(const Hdf5File& file);
// The attributes of an existing /model group (a checkpoint writes its
// datasets collectively, then adds these in its single-writer pass).
void write_model_attrs(Hdf5File& file, const GPTConfig& config, const std::map<std::string, std::string>& string_attrs);

}  // namespace pouch
