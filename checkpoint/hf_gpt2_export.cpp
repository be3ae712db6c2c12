#include "checkpoint/hf_gpt2_export.h"

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string_view>

#include "checkpoint/atomic_file.h"
#include "checkpoint/gpt_parameter_layout.h"
#include "checkpoint/safetensors_file.h"

namespace pouch {

namespace fs = std::filesystem;

namespace {

// GPT-2's <|endoftext|>, the last id of its 50257-token vocabulary.
constexpr std::int64_t kGpt2Vocab = 50257;

// A block's parameters in gpt_parameter_layout's order: Hugging Face's name
// and whether it is a Conv1D weight (stored transposed).
struct HfName {
  std::string_view name;
  bool transpose;
};
constexpr std::array<HfName, 12> kBlock{{{"ln_1.weight", false},
                                         {"ln_1.bias", false},
                                         {"attn.c_attn.weight", true},
                                         {"attn.c_attn.bias", false},
                                         {"attn.c_proj.weight", true},
                                         {"attn.c_proj.bias", false},
                                         {"ln_2.weight", false},
                                         {"ln_2.bias", false},
                                         {"mlp.c_fc.weight", true},
                                         {"mlp.c_fc.bias", false},
                                         {"mlp.c_proj.weight", true},
                                         {"mlp.c_proj.bias", false}}};

// [out, in] -> [in, out]
Tensor transposed(const Tensor& w) {
  const std::int64_t rows = w.dim(0), cols = w.dim(1);
  Tensor t = Tensor::empty({cols, rows});
  const float* src = w.f32();
  float* dst = t.f32();
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
  return t;
}

void write_text_file(const std::string& path, const std::string& text) {
  const std::string tmp = temporary_path(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot create {}: {}", tmp, std::strerror(errno));
    out << text;
    out.flush();
    if (!out) fail("writing {} failed: {}", tmp, std::strerror(errno));
  }
  publish(tmp, path);
}

}  // namespace

NamedTensors to_hf_gpt2(const GPTConfig& config, const NamedTensors& params, const std::string& target) {
  const std::vector<const Tensor*> ordered = match_gpt_parameters(config, params, target);
  NamedTensors out;
  out.emplace_back("transformer.wte.weight", *ordered[0]);
  out.emplace_back("transformer.wpe.weight", *ordered[1]);
  std::size_t k = 2;
  for (std::int64_t i = 0; i < config.layers; ++i)
    for (const HfName& n : kBlock) {
      const Tensor& t = *ordered[k++];
      out.emplace_back(fmt::format("transformer.h.{}.{}", i, n.name), n.transpose ? transposed(t) : t);
    }
  out.emplace_back("transformer.ln_f.weight", *ordered[k]);
  out.emplace_back("transformer.ln_f.bias", *ordered[k + 1]);
  return out;
}

std::string hf_gpt2_config_json(const GPTConfig& config) {
  nlohmann::ordered_json j;
  j["architectures"] = {"GPT2LMHeadModel"};
  j["model_type"] = "gpt2";
  j["vocab_size"] = config.vocab_size;
  j["n_positions"] = config.seq_len;
  j["n_ctx"] = config.seq_len;
  j["n_embd"] = config.d_model;
  j["n_layer"] = config.layers;
  j["n_head"] = config.heads;
  j["n_inner"] = nullptr;  // 4 * n_embd
  j["activation_function"] = "gelu_new";
  // The float's shortest decimal form, which reads back as the same float.
  j["layer_norm_epsilon"] = std::stod(fmt::format("{}", config.ln_eps));
  // pouch trains without dropout.
  j["resid_pdrop"] = 0.0;
  j["embd_pdrop"] = 0.0;
  j["attn_pdrop"] = 0.0;
  j["scale_attn_weights"] = true;
  j["scale_attn_by_inverse_layer_idx"] = false;
  j["reorder_and_upcast_attn"] = false;
  j["tie_word_embeddings"] = true;
  j["initializer_range"] = 0.02;
  j["torch_dtype"] = "float32";
  // GPT-2's own vocabulary ends with <|endoftext|>; another has no known one.
  if (config.vocab_size == kGpt2Vocab) {
    j["bos_token_id"] = kGpt2Vocab - 1;
    j["eos_token_id"] = kGpt2Vocab - 1;
  } else {
    j["bos_token_id"] = nullptr;
    j["eos_token_id"] = nullptr;
  }
  return j.dump(2) + "\n";
}

void export_hf_gpt2(const std::string& dir, const GPTConfig& config, const NamedTensors& params) {
  const NamedTensors hf = to_hf_gpt2(config, params, dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("cannot create the export directory {}: {}", dir, ec.message());
  write_safetensors((fs::path(dir) / "model.safetensors").string(), hf, {{"format", "pt"}});
  write_text_file((fs::path(dir) / "config.json").string(), hf_gpt2_config_json(config));
}

}  // namespace pouch
