#pragma once
// llm.c's model file (karpathy/llm.c: gpt2_write_to_checkpoint and
// gpt2_build_from_checkpoint in train_gpt2.cu, write_model in train_gpt2.py),
// so a GPT-2 trained by llm.c continues in pouch and back.
//
//   header   256 int32, little-endian (1024 bytes), unused words zero:
//            [0] 20240326 (magic)   [1] version: 3 = fp32, 5 = bf16
//            [2] maxT (max_seq_len) [3] V (vocab_size)   [4] L (num_layers)
//            [5] NH (num_heads)     [6] C (channels)     [7] Vp (padded_vocab_size)
//   params   16 tensors back to back, C order, each element fp32 (version 3)
//            or bf16 (version 5; layernorms too), layers stacked first:
//              wte (Vp, C)  wpe (maxT, C)  ln1w (L, C)  ln1b (L, C)
//              qkvw (L, 3C, C)  qkvb (L, 3C)  attprojw (L, C, C)  attprojb (L, C)
//              ln2w (L, C)  ln2b (L, C)  fcw (L, 4C, C)  fcb (L, 4C)
//              fcprojw (L, C, 4C)  fcprojb (L, C)  lnfw (C)  lnfb (C)
//   size     exactly 1024 + (number of elements) x (4 or 2) bytes.
//
// The model is pouch's GPT exactly (GPT-2 math, LayerNorm eps 1e-5, tied LM
// head, biases everywhere, weights [out, in]): each llm.c tensor's slice l is
// blocks.l.<name> (ln1w -> blocks.l.ln1.weight, qkvw -> blocks.l.attn.qkv.weight,
// attprojw -> blocks.l.attn.proj.weight, fcw -> blocks.l.mlp.fc.weight,
// fcprojw -> blocks.l.mlp.proj.weight, ...). wte's rows V..Vp-1 are llm.c's
// vocabulary padding (never looked up, masked out of its softmax): written
// as zeros, and on reading required to be zero, since pouch has no row to
// keep a non-zero one in.
#include <cstdint>
#include <string>

#include "checkpoint/weights_file.h"

namespace pouch {

inline constexpr std::int32_t kLlmcModelMagic = 20240326;
inline constexpr std::int64_t kLlmcHeaderBytes = 256 * 4;
// Vp = V rounded up to this (train_gpt2.py's pad_vocab, 50257 -> 50304).
inline constexpr std::int64_t kLlmcVocabMultiple = 128;
// llm.c's LayerNorm eps (a constant in its kernels).
inline constexpr float kLlmcLnEps = 1e-5f;

// The header's version word names the element type.
enum class LlmcVersion : std::int32_t { FP32 = 3, BF16 = 5 };

struct LlmcHeader {
  LlmcVersion version = LlmcVersion::FP32;
  std::int64_t max_seq_len = 0, vocab_size = 0, num_layers = 0, num_heads = 0, channels = 0, padded_vocab_size = 0;
};

// True when `path` starts with llm.c's model magic (how init_from and
// convert tell it from HDF5, whatever its name).
bool is_llmc_model_file(const std::string& path);

// The header, validated: the magic, the version, positive dimensions, C a
// multiple of NH, Vp >= V, and the file's size equal to what the header
// implies. Each failure is a pouch::Error naming the file and the fix.
LlmcHeader read_llmc_header(const std::string& path);

// The model as pouch's named parameters (wte without its padding rows),
// config from the header (ln_eps 1e-5). bf16 values widen exactly.
WeightsFile read_llmc_model(const std::string& path);

// Writes `params` (every parameter of `config`'s GPT, f32, nothing else)
// atomically. Vp = V rounded up to 128; bf16 rounds to nearest even
// (runtime/precision.h). Fails when the model is not expressible in llm.c's
// format (a LayerNorm eps other than 1e-5, a dimension over int32, a
// parameter missing, extra or of the wrong shape), naming what differs.
void write_llmc_model(const std::string& path, const GPTConfig& config, const NamedTensors& params,
                      LlmcVersion version);

std::int64_t llmc_padded_vocab(std::int64_t vocab_size);

}  // namespace pouch
