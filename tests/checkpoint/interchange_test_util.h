#pragma once
// Helpers of the interchange tests (llm.c's model file, Hugging Face's GPT-2
// layout): random full weights of a GPT, pouch's logits for them, and
// tests/checkpoint/gpt2_reference.py, the independent reader and writer.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/gpt_parameter_layout.h"
#include "checkpoint_test_util.h"
#include "model/gpt.h"
#include "runtime/backend.h"
#include "runtime/rng.h"

namespace pouch::testing {

inline bool system_python_has_numpy() {
  static const bool ok = std::system(fmt::format("{} -c 'import numpy' >/dev/null 2>&1", kSystemPython).c_str()) == 0;
  return ok;
}

// Runs gpt2_reference.py with `args`; returns its exit code, its output in *log.
inline int run_reference(const TempDir& dir, const std::string& args, std::string* log) {
  const std::string log_path = dir.file("reference.log");
  const int status =
      std::system(fmt::format("{} '{}' {} >'{}' 2>&1", kSystemPython, POUCH_GPT2_REFERENCE_PY, args, log_path).c_str());
  *log = read_text(log_path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Every parameter of `config`'s GPT, N(0, 0.3), LayerNorm weights around 1
// and biases non-zero, so that a swapped or untransposed tensor shows.
inline NamedTensors random_gpt_params(const GPTConfig& config, std::uint64_t seed) {
  NamedTensors out;
  RngStream rng(seed, 1);
  for (const GptParameter& p : gpt_parameter_layout(config)) {
    Tensor t = Tensor::empty(p.shape);
    const bool norm_weight =
        p.shape.size() == 1 && p.name.ends_with(".weight") && p.name.find("ln") != std::string::npos;
    for (std::int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = (norm_weight ? 1.0f : 0.0f) + 0.3f * rng.normal();
    out.emplace_back(p.name, std::move(t));
  }
  return out;
}

// Tokens [B, T] int32 below `vocab`.
inline Tensor random_tokens(std::int64_t B, std::int64_t T, std::int64_t vocab, std::uint64_t seed) {
  Tensor t = Tensor::empty({B, T}, DType::I32);
  RngStream rng(seed, 2);
  for (std::int64_t i = 0; i < t.numel(); ++i)
    t.data<std::int32_t>()[i] = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(vocab)));
  return t;
}

// pouch's logits [B, T, V] for `params`, written to `path` as raw float32.
inline void write_pouch_logits(const GPTConfig& config, const NamedTensors& params, const Tensor& tokens,
                               const std::string& path) {
  auto be = make_backend(Device::CPU);
  GPT model(config, *be);
  model.load_named(params, "test weights");
  Tensor targets = Tensor::zeros(tokens.shape(), DType::I32);
  model.forward(tokens, targets);
  const Tensor& logits = model.logits();
  ASSERT_EQ(logits.numel(), tokens.numel() * config.vocab_size);
  write_text(path, std::string(static_cast<const char*>(logits.raw()), logits.nbytes()));
}

inline void write_tensor(const Tensor& t, const std::string& path) {
  write_text(path, std::string(static_cast<const char*>(t.raw()), t.nbytes()));
}

// Lines "name<TAB>d0 d1 ..." of gpt2_reference.py's listing.txt.
inline std::vector<std::pair<std::string, Shape>> read_listing(const std::string& path) {
  std::vector<std::pair<std::string, Shape>> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto tab = line.find('\t');
    std::istringstream dims(line.substr(tab + 1));
    Shape shape;
    for (std::int64_t d; dims >> d;) shape.push_back(d);
    out.emplace_back(line.substr(0, tab), shape);
  }
  return out;
}

inline const Tensor* find_param(const NamedTensors& params, const std::string& name) {
  for (const auto& [n, t] : params)
    if (n == name) return &t;
  return nullptr;
}

inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

}  // namespace pouch::testing

#define POUCH_SKIP_WITHOUT_NUMPY()                                                \
  do {                                                                            \
    if (!::pouch::testing::system_python_has_numpy())                             \
      GTEST_SKIP() << "/usr/bin/python3 cannot import numpy (apt python3-numpy)"; \
  } while (0)
