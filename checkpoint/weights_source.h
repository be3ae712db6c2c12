#pragma once
// A model's weights from any file pouch reads them from, told apart by the
// file's first bytes, not its name: an llm.c model file (its magic,
// checkpoint/llmc_model_file.h) or HDF5 (a pouch weights file or a training
// checkpoint's /model, checkpoint/weights_file.h).
#include <string>

#include "checkpoint/weights_file.h"

namespace pouch {

WeightsFile load_weights_any_format(const std::string& path);

}  // namespace pouch
