#pragma once
// A trained model on disk: the HDF5 weights file (checkpoint/weights_file.h)
// plus the tokenizer and the run's config as string attributes of /model, so
// `pouch eval` and `pouch generate` need nothing but the file.
#include <memory>
#include <string>

#include "data/tokenizer.h"
#include "model/gpt.h"

namespace pouch {

struct LoadedModel {
  std::unique_ptr<GPT> model;
  std::unique_ptr<Tokenizer> tokenizer;  // null when the file carries none (e.g. written by h5py)
  std::string config_ini;                // empty when the file carries none
};

// Writes full tensors `named` (GPT::named_values(): a collective under
// tensor parallelism, so the caller gathers and one rank writes).
void save_weights_file(const std::string& path, const GPTConfig& config,
                       const std::vector<std::pair<std::string, Tensor>>& named, const Tokenizer* tokenizer,
                       const std::string& config_ini);
LoadedModel load_model_file(const std::string& path, Backend& backend);
// Copies the weights of `path` into an existing model (train.init_from); the
// file's config must match the model's shapes.
void load_weights_into(GPT& model, const std::string& path);

}  // namespace pouch
