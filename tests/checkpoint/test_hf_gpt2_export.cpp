// Hugging Face's GPT-2 layout: the names, shapes and transposes of
// GPT2LMHeadModel's state dict, a safetensors file and config.json that
// follow the format's specification (checked by an independent reader), and
// a forward in Hugging Face's conventions on the exported tensors that gives
// pouch's logits, which proves the transposes.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "checkpoint/hf_gpt2_export.h"
#include "checkpoint/safetensors_file.h"
#include "interchange_test_util.h"
#include "tests/support/error_of.h"

namespace pouch {
namespace {

using testing::TempDir;

GPTConfig small_config() {
  GPTConfig c;
  c.layers = 2;
  c.d_model = 16;
  c.heads = 4;
  c.seq_len = 9;
  c.vocab_size = 37;
  return c;
}

TEST(HfGpt2Export, NamesShapesAndConv1dTransposes) {
  const GPTConfig c = small_config();
  const NamedTensors params = testing::random_gpt_params(c, 1);
  const NamedTensors hf = to_hf_gpt2(c, params, "test");
  ASSERT_EQ(hf.size(), params.size()) << "one tensor per parameter; the tied lm_head is not stored";
  EXPECT_EQ(testing::find_param(hf, "lm_head.weight"), nullptr);
  struct Case {
    const char* hf;
    const char* pouch;
    Shape shape;
    bool transposed;
  };
  const Case cases[] = {{"transformer.wte.weight", "wte", {37, 16}, false},
                        {"transformer.wpe.weight", "wpe", {9, 16}, false},
                        {"transformer.h.1.ln_1.weight", "blocks.1.ln1.weight", {16}, false},
                        {"transformer.h.1.ln_1.bias", "blocks.1.ln1.bias", {16}, false},
                        {"transformer.h.1.attn.c_attn.weight", "blocks.1.attn.qkv.weight", {16, 48}, true},
                        {"transformer.h.1.attn.c_attn.bias", "blocks.1.attn.qkv.bias", {48}, false},
                        {"transformer.h.0.attn.c_proj.weight", "blocks.0.attn.proj.weight", {16, 16}, true},
                        {"transformer.h.0.attn.c_proj.bias", "blocks.0.attn.proj.bias", {16}, false},
                        {"transformer.h.0.ln_2.weight", "blocks.0.ln2.weight", {16}, false},
                        {"transformer.h.0.ln_2.bias", "blocks.0.ln2.bias", {16}, false},
                        {"transformer.h.0.mlp.c_fc.weight", "blocks.0.mlp.fc.weight", {16, 64}, true},
                        {"transformer.h.0.mlp.c_fc.bias", "blocks.0.mlp.fc.bias", {64}, false},
                        {"transformer.h.1.mlp.c_proj.weight", "blocks.1.mlp.proj.weight", {64, 16}, true},
                        {"transformer.h.1.mlp.c_proj.bias", "blocks.1.mlp.proj.bias", {16}, false},
                        {"transformer.ln_f.weight", "lnf.weight", {16}, false},
                        {"transformer.ln_f.bias", "lnf.bias", {16}, false}};
  for (const Case& k : cases) {
    const Tensor* h = testing::find_param(hf, k.hf);
    const Tensor* p = testing::find_param(params, k.pouch);
    ASSERT_NE(h, nullptr) << k.hf;
    ASSERT_EQ(h->shape(), k.shape) << k.hf;
    if (!k.transposed) {
      EXPECT_TRUE(testing::bitwise_equal(*h, *p)) << k.hf;
      continue;
    }
    const std::int64_t in = k.shape[0], out = k.shape[1];
    for (std::int64_t i = 0; i < in; ++i)
      for (std::int64_t o = 0; o < out; ++o)
        ASSERT_EQ(h->f32()[i * out + o], p->f32()[o * in + i]) << k.hf << "[" << i << ", " << o << "]";
  }
}

TEST(HfGpt2Export, ConfigJsonHasGpt2sKeys) {
  GPTConfig c = small_config();
  auto j = nlohmann::json::parse(hf_gpt2_config_json(c));
  EXPECT_EQ(j["model_type"], "gpt2");
  EXPECT_EQ(j["architectures"], nlohmann::json::array({"GPT2LMHeadModel"}));
  EXPECT_EQ(j["n_embd"], 16);
  EXPECT_EQ(j["n_layer"], 2);
  EXPECT_EQ(j["n_head"], 4);
  EXPECT_EQ(j["n_positions"], 9);
  EXPECT_EQ(j["vocab_size"], 37);
  EXPECT_EQ(j["layer_norm_epsilon"].get<double>(), 1e-5) << "the float's shortest form, not 9.99999974e-06";
  EXPECT_EQ(j["activation_function"], "gelu_new");
  EXPECT_EQ(j["tie_word_embeddings"], true);
  EXPECT_TRUE(j["eos_token_id"].is_null()) << "a vocabulary that is not GPT-2's has no known <|endoftext|>";
  c.vocab_size = 50257;
  j = nlohmann::json::parse(hf_gpt2_config_json(c));
  EXPECT_EQ(j["eos_token_id"], 50256);
}

TEST(HfGpt2Export, IncompleteModelIsRefused) {
  TempDir dir;
  const GPTConfig c = small_config();
  NamedTensors params = testing::random_gpt_params(c, 2);
  params.erase(params.begin() + 4);  // blocks.0.attn.qkv.weight
  const std::string msg = error_of([&] { export_hf_gpt2(dir.file("hf"), c, params); });
  EXPECT_NE(msg.find("'blocks.0.attn.qkv.weight' is missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir.file("hf")), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(dir.file("hf/model.safetensors")));
}

TEST(HfGpt2Export, IndependentReaderChecksLayoutAndForwardMatchesPouch) {
  POUCH_SKIP_WITHOUT_NUMPY();
  TempDir dir;
  GPTConfig c = small_config();
  c.ln_eps = 1e-6f;  // passed through to layer_norm_epsilon
  const NamedTensors params = testing::random_gpt_params(c, 3);
  const std::string out = dir.file("hf");
  export_hf_gpt2(out, c, params);
  const Tensor tokens = testing::random_tokens(3, 9, 37, 4);
  testing::write_tensor(tokens, dir.file("tokens.i32"));
  testing::write_pouch_logits(c, params, tokens, dir.file("logits.f32"));
  std::string log;
  ASSERT_EQ(testing::run_reference(dir,
                                   fmt::format("check-hf '{}' 2 16 4 9 37 1e-6 '{}' '{}' 3 9", out,
                                               dir.file("tokens.i32"), dir.file("logits.f32")),
                                   &log),
            0)
      << log;
  std::printf("%s", log.c_str());

  // The reader fails when the transposes are wrong: pouch's own layout under
  // Hugging Face's names (weights [out, in]) must not pass.
  NamedTensors untransposed = to_hf_gpt2(c, params, out);
  for (auto& [name, t] : untransposed)
    for (int i = 0; i < 2; ++i)
      if (name == fmt::format("transformer.h.{}.attn.c_proj.weight", i))
        t = testing::find_param(params, fmt::format("blocks.{}.attn.proj.weight", i))->clone();
  write_safetensors(out + "/model.safetensors", untransposed, {{"format", "pt"}});
  EXPECT_EQ(testing::run_reference(dir,
                                   fmt::format("check-hf '{}' 2 16 4 9 37 1e-6 '{}' '{}' 3 9", out,
                                               dir.file("tokens.i32"), dir.file("logits.f32")),
                                   &log),
            1)
      << log;
  EXPECT_NE(log.find("differs from pouch's logits"), std::string::npos) << log;
}

}  // namespace
}  // namespace pouch
