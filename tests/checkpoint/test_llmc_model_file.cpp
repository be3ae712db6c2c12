// llm.c's model file: pouch -> llm.c -> pouch is bitwise, bf16 rounds to
// nearest even and widens exactly, a file from an independent writer (the
// format's documentation, in Python) loads with the weights it wrote and
// computes what a reference forward in llm.c's conventions computes, and
// every damaged or mismatched file is a clear error.
#include <gtest/gtest.h>

#include <bit>
#include <climits>
#include <cstring>
#include <filesystem>

#include "checkpoint/llmc_model_file.h"
#include "checkpoint/weights_source.h"
#include "interchange_test_util.h"
#include "runtime/precision.h"
#include "tests/support/error_of.h"

namespace pouch {
namespace {

using testing::TempDir;

// V = 70 pads to Vp = 128: 58 padding rows.
GPTConfig small_config() {
  GPTConfig c;
  c.layers = 2;
  c.d_model = 16;
  c.heads = 2;
  c.seq_len = 12;
  c.vocab_size = 70;
  return c;
}

std::int64_t element_count(const GPTConfig& c, std::int64_t Vp) {
  const std::int64_t C = c.d_model;
  return Vp * C + c.seq_len * C + c.layers * (12 * C * C + 13 * C) + 2 * C;
}

std::int32_t header_word(const std::string& path, int i) {
  const std::string bytes = testing::read_text(path);
  std::int32_t w;
  std::memcpy(&w, bytes.data() + 4 * i, 4);
  return w;
}

TEST(LlmcModelFile, LayoutIsPouchsGpt) {
  const GPTConfig c = small_config();
  auto be = make_backend(Device::CPU);
  GPT model(c, *be);
  const auto layout = gpt_parameter_layout(c);
  ASSERT_EQ(layout.size(), model.parameters().size());
  std::size_t i = 0;
  for (const auto& p : model.parameters()) {
    EXPECT_EQ(layout[i].name, p.name);
    EXPECT_EQ(layout[i].shape, p.full_shape) << p.name;
    ++i;
  }
}

TEST(LlmcModelFile, HeaderSizeAndPaddingAreLlmcs) {
  TempDir dir;
  const GPTConfig c = small_config();
  const std::string path = dir.file("model.bin");
  write_llmc_model(path, c, testing::random_gpt_params(c, 1), LlmcVersion::FP32);
  EXPECT_EQ(std::filesystem::file_size(path), 1024u + 4u * static_cast<std::uintmax_t>(element_count(c, 128)));
  const std::int32_t want[8] = {20240326, 3, 12, 70, 2, 2, 16, 128};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(header_word(path, i), want[i]) << "header word " << i;
  for (int i = 8; i < 256; ++i) ASSERT_EQ(header_word(path, i), 0) << "header word " << i;
  // wte's rows 70..127 follow its 70 real rows and are zero.
  const std::string bytes = testing::read_text(path);
  const std::size_t begin = 1024 + 70 * 16 * 4, end = 1024 + 128 * 16 * 4;
  for (std::size_t b = begin; b < end; ++b) ASSERT_EQ(bytes[b], 0) << "padding byte " << b;
  EXPECT_NE(bytes[begin - 1] | bytes[begin - 2], 0) << "the last real row is written before the padding";
  EXPECT_EQ(llmc_padded_vocab(50257), 50304);
  EXPECT_TRUE(is_llmc_model_file(path));
}

TEST(LlmcModelFile, Fp32RoundTripIsBitwise) {
  TempDir dir;
  const GPTConfig c = small_config();
  const NamedTensors params = testing::random_gpt_params(c, 2);
  write_llmc_model(dir.file("a.bin"), c, params, LlmcVersion::FP32);
  const WeightsFile back = read_llmc_model(dir.file("a.bin"));
  EXPECT_EQ(back.config.layers, c.layers);
  EXPECT_EQ(back.config.d_model, c.d_model);
  EXPECT_EQ(back.config.heads, c.heads);
  EXPECT_EQ(back.config.seq_len, c.seq_len);
  EXPECT_EQ(back.config.vocab_size, c.vocab_size);
  EXPECT_EQ(back.config.ln_eps, 1e-5f);
  ASSERT_EQ(back.params.size(), params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(back.params[i].first, params[i].first) << "pouch's order";
    EXPECT_TRUE(testing::bitwise_equal(back.params[i].second, params[i].second)) << params[i].first;
  }
  // and llm.c -> pouch -> llm.c gives the same bytes
  write_llmc_model(dir.file("b.bin"), back.config, back.params, LlmcVersion::FP32);
  EXPECT_EQ(testing::read_text(dir.file("a.bin")), testing::read_text(dir.file("b.bin")));
}

TEST(LlmcModelFile, Bf16RoundsToNearestEvenAndWidensExactly) {
  TempDir dir;
  const GPTConfig c = small_config();
  NamedTensors params = testing::random_gpt_params(c, 3);
  // bf16 keeps 7 fraction bits: 1 + 2^-8 is halfway between 1 and 1 + 2^-7
  // and goes to the even 1; 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and
  // 1 + 2^-6 and goes to the even 1 + 2^-6; just above halfway rounds up.
  float* wte = params[0].second.f32();
  const float cases[][2] = {{1.0f + 0x1p-8f, 1.0f},
                            {1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-6f},
                            {-(1.0f + 0x1p-8f), -1.0f},
                            {1.0f + 0x1p-8f + 0x1p-20f, 1.0f + 0x1p-7f},
                            {0x1p-130f, 0x1p-130f}};  // a subnormal bf16 holds exactly
  for (int i = 0; i < 5; ++i) wte[i] = cases[i][0];
  write_llmc_model(dir.file("a.bin"), c, params, LlmcVersion::BF16);
  EXPECT_EQ(header_word(dir.file("a.bin"), 1), 5);
  EXPECT_EQ(std::filesystem::file_size(dir.file("a.bin")),
            1024u + 2u * static_cast<std::uintmax_t>(element_count(c, 128)));
  const WeightsFile back = read_llmc_model(dir.file("a.bin"));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(back.params[0].second.f32()[i], cases[i][1]) << "case " << i;
  for (std::size_t k = 0; k < params.size(); ++k) {
    const Tensor& in = params[k].second;
    const Tensor& out = back.params[k].second;
    for (std::int64_t i = 0; i < in.numel(); ++i) {
      const std::uint32_t bits = std::bit_cast<std::uint32_t>(in.f32()[i]);
      // round to nearest even on the low 16 bits, by hand (no NaN or overflow here)
      const std::uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
      ASSERT_EQ(std::bit_cast<std::uint32_t>(out.f32()[i]), rounded) << params[k].first << "[" << i << "]";
    }
  }
  // Exact on import: reading and writing bf16 again gives the same bytes.
  write_llmc_model(dir.file("b.bin"), back.config, back.params, LlmcVersion::BF16);
  EXPECT_EQ(testing::read_text(dir.file("a.bin")), testing::read_text(dir.file("b.bin")));
}

TEST(LlmcModelFile, DamagedFilesAreClearErrors) {
  TempDir dir;
  const GPTConfig c = small_config();
  const std::string good = dir.file("good.bin");
  write_llmc_model(good, c, testing::random_gpt_params(c, 4), LlmcVersion::FP32);
  const std::string bytes = testing::read_text(good);
  auto variant = [&](const std::string& name, const std::string& content) { return dir.write(name, content); };
  auto expect = [&](const std::string& path, std::initializer_list<const char*> parts) {
    const std::string msg = error_of([&] { read_llmc_model(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    for (const char* part : parts) EXPECT_NE(msg.find(part), std::string::npos) << "want '" << part << "' in: " << msg;
  };

  std::string magic = bytes;
  std::int32_t w = 12345;
  std::memcpy(magic.data(), &w, 4);
  expect(variant("magic.bin", magic), {"not an llm.c model file", "12345", "20240326"});
  w = 20240520;
  std::memcpy(magic.data(), &w, 4);
  expect(variant("shard.bin", magic), {"token shard", "data.path"});

  for (std::int32_t v : {1, 2, 4, 6}) {
    std::string version = bytes;
    std::memcpy(version.data() + 4, &v, 4);
    expect(variant(fmt::format("v{}.bin", v), version),
           {fmt::format("version {} is not supported", v).c_str(), "3 (fp32) and 5 (bf16)"});
  }
  expect(variant("truncated.bin", bytes.substr(0, bytes.size() - 2)), {"truncated", "needs"});
  expect(variant("short.bin", bytes.substr(0, 100)), {"100 bytes", "1024-byte header"});
  expect(variant("oversized.bin", bytes + std::string(4, '\0')), {"4 more than its header"});

  std::string padded = bytes;
  const float one = 1.0f;
  std::memcpy(padded.data() + 1024 + (100 * 16 + 3) * 4, &one, 4);  // row 100 is padding
  expect(variant("padding.bin", padded), {"wte row 100", "not zero"});

  std::string heads = bytes;
  w = 3;  // 16 channels over 3 heads
  std::memcpy(heads.data() + 5 * 4, &w, 4);
  expect(variant("heads.bin", heads), {"not a multiple of num_heads 3"});
  std::string vocab = bytes;
  w = 200;  // vocab above the padded vocab
  std::memcpy(vocab.data() + 3 * 4, &w, 4);
  expect(variant("vocab.bin", vocab), {"padded_vocab_size 128 is smaller than vocab_size 200"});
  std::string negative = bytes;
  w = -1;
  std::memcpy(negative.data() + 4 * 4, &w, 4);
  expect(variant("negative.bin", negative), {"must be positive", "L=-1"});
  std::string huge = bytes;
  w = 0x7FFFFFFF;  // the size computation must not overflow
  std::memcpy(huge.data() + 4 * 4, &w, 4);
  std::memcpy(huge.data() + 6 * 4, &w, 4);
  std::memcpy(huge.data() + 5 * 4, &w, 4);
  expect(variant("huge.bin", huge), {"truncated"});

  const std::string missing = dir.file("missing.bin");
  EXPECT_NE(error_of([&] { read_llmc_model(missing); }).find(missing), std::string::npos);
}

// Any value in any header word gives a model or a pouch::Error, never a
// crash or a huge allocation (the size is checked before reading).
TEST(LlmcModelFile, EveryHeaderWordMutationIsHandled) {
  TempDir dir;
  const GPTConfig c = small_config();
  const std::string good = dir.file("good.bin");
  write_llmc_model(good, c, testing::random_gpt_params(c, 8), LlmcVersion::FP32);
  const std::string bytes = testing::read_text(good);
  const std::int32_t values[] = {0, 1, -1, 2, 3, 5, 16, 127, 128, 129, 1 << 20, INT32_MAX, INT32_MIN};
  int loaded = 0, refused = 0;
  for (int word = 1; word < 8; ++word)
    for (std::int32_t v : values) {
      std::string mutated = bytes;
      std::memcpy(mutated.data() + 4 * word, &v, 4);
      const std::string path = dir.write("m.bin", mutated);
      try {
        const WeightsFile w = read_llmc_model(path);
        EXPECT_EQ(w.params.size(), 2u + 12u * static_cast<std::size_t>(w.config.layers) + 2u);
        ++loaded;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        ++refused;
      }
    }
  // What loads: each word's own value (version 3, L 2, C 16, Vp 128), heads
  // 1 and 16 (they divide C = 16) and vocab 127 and 128 (the padding beyond
  // row 70 is zero); the other 82 mutations are refused.
  EXPECT_EQ(loaded, 9);
  EXPECT_EQ(refused, 82);
}

TEST(LlmcModelFile, ModelsLlmcCannotHoldAreRefused) {
  TempDir dir;
  GPTConfig c = small_config();
  const std::string path = dir.file("x.bin");
  NamedTensors params = testing::random_gpt_params(c, 5);

  GPTConfig eps = c;
  eps.ln_eps = 1e-6f;
  std::string msg = error_of([&] { write_llmc_model(path, eps, params, LlmcVersion::FP32); });
  EXPECT_NE(msg.find("LayerNorm eps"), std::string::npos) << msg;
  EXPECT_NE(msg.find("safetensors"), std::string::npos) << msg;

  NamedTensors extra = params;
  extra.emplace_back("value_head.weight", Tensor::zeros({1, 16}));
  msg = error_of([&] { write_llmc_model(path, c, extra, LlmcVersion::FP32); });
  EXPECT_NE(msg.find("'value_head.weight'"), std::string::npos) << msg;

  NamedTensors missing(params.begin(), params.end() - 1);
  msg = error_of([&] { write_llmc_model(path, c, missing, LlmcVersion::FP32); });
  EXPECT_NE(msg.find("'lnf.bias' is missing"), std::string::npos) << msg;

  NamedTensors shape = params;
  shape[1].second = Tensor::zeros({11, 16});
  msg = error_of([&] { write_llmc_model(path, c, shape, LlmcVersion::FP32); });
  EXPECT_NE(msg.find("'wpe' is f32 [11, 16]"), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(path)) << "nothing is written when the model does not fit";
}

TEST(LlmcModelFile, InitFromTellsFormatsByContentNotName) {
  TempDir dir;
  const GPTConfig c = small_config();
  const NamedTensors params = testing::random_gpt_params(c, 6);
  write_llmc_model(dir.file("weights.h5"), c, params, LlmcVersion::FP32);  // an llm.c file under an HDF5 name
  save_weights(dir.file("model.bin"), c, params);                          // and HDF5 under llm.c's
  for (const char* name : {"weights.h5", "model.bin"}) {
    const WeightsFile w = load_weights_any_format(dir.file(name));
    ASSERT_EQ(w.params.size(), params.size()) << name;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Tensor* t = testing::find_param(w.params, params[i].first);
      ASSERT_NE(t, nullptr) << name << " " << params[i].first;
      EXPECT_TRUE(testing::bitwise_equal(*t, params[i].second)) << name << " " << params[i].first;
    }
  }
  const std::string junk = dir.write("junk.bin", std::string(2000, 'x'));
  const std::string msg = error_of([&] { load_weights_any_format(junk); });
  EXPECT_NE(msg.find(junk), std::string::npos) << msg;
  EXPECT_NE(msg.find("llm.c's model file"), std::string::npos) << msg;
  EXPECT_NE(msg.find("20240326"), std::string::npos) << msg;
}

// The independent writer: gpt2_reference.py writes model.bin from the
// documented layout alone; pouch must load exactly the weights it wrote.
void check_independent_file(int version) {
  TempDir dir;
  std::string log;
  ASSERT_EQ(testing::run_reference(dir,
                                   fmt::format("write-llmc '{}' '{}' --version {} --layers 2 --channels 16 --heads 4 "
                                               "--seq 10 --vocab 45 --seed {}",
                                               dir.file("model.bin"), dir.file("arrays"), version, 10 + version),
                                   &log),
            0)
      << log;
  const WeightsFile w = load_weights_any_format(dir.file("model.bin"));
  EXPECT_EQ(w.config.layers, 2);
  EXPECT_EQ(w.config.d_model, 16);
  EXPECT_EQ(w.config.heads, 4);
  EXPECT_EQ(w.config.seq_len, 10);
  EXPECT_EQ(w.config.vocab_size, 45);
  const auto listing = testing::read_listing(dir.file("arrays/listing.txt"));
  ASSERT_EQ(listing.size(), w.params.size());
  for (const auto& [name, shape] : listing) {
    const Tensor* t = testing::find_param(w.params, name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->shape(), shape) << name;
    const std::string want = testing::read_text(dir.file("arrays/" + name + ".f32"));
    ASSERT_EQ(want.size(), t->nbytes()) << name;
    EXPECT_EQ(std::memcmp(want.data(), t->raw(), t->nbytes()), 0) << name;
  }

  // The model computes what llm.c's math computes on the file's weights.
  const Tensor tokens = testing::random_tokens(2, 10, 45, 7);
  testing::write_tensor(tokens, dir.file("tokens.i32"));
  testing::write_pouch_logits(w.config, w.params, tokens, dir.file("logits.f32"));
  ASSERT_EQ(testing::run_reference(dir,
                                   fmt::format("forward-llmc '{}' '{}' '{}' 2 10", dir.file("model.bin"),
                                               dir.file("tokens.i32"), dir.file("logits.f32")),
                                   &log),
            0)
      << log;
  std::printf("%s", log.c_str());
}

TEST(LlmcModelFile, IndependentFp32FileLoadsAndComputesLlmcsModel) {
  POUCH_SKIP_WITHOUT_NUMPY();
  check_independent_file(3);
}

TEST(LlmcModelFile, IndependentBf16FileLoadsAndComputesLlmcsModel) {
  POUCH_SKIP_WITHOUT_NUMPY();
  check_independent_file(5);
}

}  // namespace
}  // namespace pouch
