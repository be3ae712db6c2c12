#pragma once
// The workload of the HDF5 thread-safety stress tests (test_hdf5_threads.cpp
// in one process, hdf5_thread_stress_driver.cpp on two ranks): what the
// training thread does with HDF5 while the background writer publishes
// checkpoints. Each round writes a weights file whose every value is a
// function of (rank, round, tensor, index), reads it back whole and one
// tensor alone, and compares; any difference is returned as text. HDF5 that
// two threads enter at once crashes, fails a call, or returns wrong values
// here (its identifier table, metadata cache and error stack are shared).
#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "checkpoint/weights_file.h"
#include "model/gpt_config.h"

namespace pouch::testing {

inline GPTConfig stress_config() {
  GPTConfig c;
  c.layers = 1;
  c.d_model = 48;
  c.heads = 2;
  c.seq_len = 16;
  c.vocab_size = 40;
  return c;
}

inline NamedTensors stress_params(int rank, int round) {
  const char* names[] = {"wte", "wpe", "blocks.0.attn.qkv.weight", "blocks.0.mlp.fc.weight", "lnf.weight"};
  const Shape shapes[] = {{40, 48}, {16, 48}, {144, 48}, {192, 48}, {48}};
  NamedTensors params;
  for (int k = 0; k < 5; ++k) {
    Tensor t = Tensor::empty(shapes[k], DType::F32);
    for (std::int64_t i = 0; i < t.numel(); ++i)
      t.f32()[i] = static_cast<float>(rank * 1000000 + round * 1000 + k * 100) + static_cast<float>(i % 997) / 8.0f;
    params.emplace_back(names[k], std::move(t));
  }
  return params;
}

// "" when the weights file of (rank, round) at `path` holds exactly stress_params(rank, round).
inline std::string check_stress_weights(const std::string& path, int rank, int round) {
  const NamedTensors want = stress_params(rank, round);
  const WeightsFile got = load_weights(path);
  if (got.params.size() != want.size())
    return fmt::format("{}: {} tensors, expected {}", path, got.params.size(), want.size());
  if (got.config.d_model != stress_config().d_model) return fmt::format("{}: d_model {}", path, got.config.d_model);
  if (got.attrs.count("round") == 0 || got.attrs.at("round") != std::to_string(round))
    return fmt::format("{}: attribute 'round' is missing or wrong", path);
  for (std::size_t k = 0; k < want.size(); ++k) {
    const auto& [name, t] = want[k];
    if (got.params[k].first != name || got.params[k].second.shape() != t.shape() ||
        std::memcmp(got.params[k].second.raw(), t.raw(), t.nbytes()) != 0)
      return fmt::format("{}: tensor '{}' differs", path, name);
  }
  const Tensor one = read_weights_tensor(path, "lnf.weight");
  if (std::memcmp(one.raw(), want.back().second.raw(), one.nbytes()) != 0)
    return fmt::format("{}: lnf.weight read alone differs", path);
  return "";
}

// One round of the training thread: write, then read back and check.
inline std::string stress_weights_round(const std::string& path, int rank, int round) {
  save_weights(path, stress_config(), stress_params(rank, round), {{"round", std::to_string(round)}});
  return check_stress_weights(path, rank, round);
}

}  // namespace pouch::testing
