#pragma once
// Hugging Face's GPT-2 (transformers' GPT2LMHeadModel) layout, so that
// `GPT2LMHeadModel.from_pretrained(dir)` loads a pouch model:
//   dir/model.safetensors   F32 tensors under GPT-2's state-dict names,
//                           __metadata__ {"format": "pt"} (from_pretrained
//                           refuses a safetensors file without it)
//   <dir>/config.json       model_type gpt2 and the dimensions
//
// GPT-2's linear layers are Conv1D modules, y = x W + b with W [in, out]: the
// transpose of pouch's [out, in]. Names and shapes (C = d_model):
//   transformer.wte.weight [V, C]           <- wte
//   transformer.wpe.weight [T, C]           <- wpe
//   transformer.h.{i}.ln_1.weight/.bias [C] <- blocks.{i}.ln1.*
//   transformer.h.{i}.attn.c_attn.weight [C, 3C] <- blocks.{i}.attn.qkv.weight^T (q, k, v columns)
//   transformer.h.{i}.attn.c_attn.bias [3C]
//   transformer.h.{i}.attn.c_proj.weight [C, C]  <- blocks.{i}.attn.proj.weight^T, .bias [C]
//   transformer.h.{i}.ln_2.weight/.bias [C] <- blocks.{i}.ln2.*
//   transformer.h.{i}.mlp.c_fc.weight [C, 4C]    <- blocks.{i}.mlp.fc.weight^T, .bias [4C]
//   transformer.h.{i}.mlp.c_proj.weight [4C, C]  <- blocks.{i}.mlp.proj.weight^T, .bias [C]
//   transformer.ln_f.weight/.bias [C]       <- lnf.*
// lm_head.weight is tied to transformer.wte.weight and, as save_pretrained
// does, not stored: safetensors cannot hold two names for one buffer, and
// from_pretrained re-ties it (config tie_word_embeddings = true). The
// attention's causal-mask buffers (attn.bias, attn.masked_bias) are not
// weights and are not stored either.
#include <string>

#include "checkpoint/weights_file.h"

namespace pouch {

// The tensors under Hugging Face's names, Conv1D weights transposed. Every
// parameter of `config`'s GPT must be in `params` with its shape, and
// nothing else (an error names `target`, the file being written, and what differs).
NamedTensors to_hf_gpt2(const GPTConfig& config, const NamedTensors& params, const std::string& target);

// config.json for GPT2LMHeadModel: n_embd, n_layer, n_head, n_positions
// (and n_ctx), vocab_size, layer_norm_epsilon, activation_function gelu_new
// (the tanh GELU pouch computes).
std::string hf_gpt2_config_json(const GPTConfig& config);

// Writes <dir>/model.safetensors and <dir>/config.json (creating dir), each atomically.
void export_hf_gpt2(const std::string& dir, const GPTConfig& config, const NamedTensors& params);

}  // namespace pouch
