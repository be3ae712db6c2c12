#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include "checkpoint/hdf5_file.h"
#include "checkpoint/weights_file.h"
#include "checkpoint_test_util.h"
#include "runtime/error.h"
#include "tests/support/error_of.h"

namespace pouch {
namespace {

using testing::TempDir;

Tensor filled(Shape shape, float seed) {
  Tensor t = Tensor::empty(std::move(shape));
  for (std::int64_t i = 0; i < t.numel(); ++i)
    t.f32()[i] = std::sin(seed + 0.37f * static_cast<float>(i)) * (1.0f + static_cast<float>(i % 5));
  return t;
}

GPTConfig small_config() {
  GPTConfig c;
  c.layers = 1;
  c.d_model = 5;
  c.heads = 1;
  c.seq_len = 3;
  c.vocab_size = 7;
  c.ln_eps = 2.5e-6f;
  return c;
}

// Odd shapes, a 1-d tensor, a scalar, an empty tensor, and values whose bits
// must survive exactly (negative zero, a subnormal, infinities, a NaN payload).
NamedTensors sample_params() {
  NamedTensors params;
  params.emplace_back("wte", filled({7, 5}, 0.1f));
  params.emplace_back("wpe", filled({3, 5}, 0.2f));
  params.emplace_back("blocks.0.attn.qkv.weight", filled({15, 5}, 0.3f));
  params.emplace_back("blocks.0.attn.qkv.bias", filled({15}, 0.4f));
  params.emplace_back("a.scalar", filled({}, 0.5f));
  params.emplace_back("empty", filled({0, 3}, 0.6f));
  Tensor special = Tensor::empty({6});
  special.f32()[0] = -0.0f;
  special.f32()[1] = std::numeric_limits<float>::denorm_min();
  special.f32()[2] = std::numeric_limits<float>::infinity();
  special.f32()[3] = -std::numeric_limits<float>::infinity();
  special.f32()[4] = std::bit_cast<float>(0x7fc12345u);
  special.f32()[5] = std::numeric_limits<float>::max();
  params.emplace_back("lnf.weight", special);
  return params;
}

void expect_bitwise_equal(const Tensor& a, const Tensor& b, const std::string& name) {
  ASSERT_EQ(a.shape(), b.shape()) << name;
  ASSERT_EQ(a.dtype(), DType::F32) << name;
  ASSERT_EQ(b.dtype(), DType::F32) << name;
  EXPECT_EQ(0, std::memcmp(a.raw(), b.raw(), a.nbytes())) << name;
}

TEST(WeightsFile, RoundTripIsBitwiseExact) {
  TempDir dir;
  std::string path = dir.file("sub/dir/model.h5");
  NamedTensors params = sample_params();
  std::map<std::string, std::string> attrs{{"tokenizer", R"({"type": "char", "vocab": ["a", "é", "\n"]})"},
                                           {"config", "[model]\nlayers = 1\n\n[train]\nname = x\n"},
                                           {"empty", ""}};
  save_weights(path, small_config(), params, attrs);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  WeightsFile loaded = load_weights(path);
  GPTConfig want = small_config();
  EXPECT_EQ(loaded.config.layers, want.layers);
  EXPECT_EQ(loaded.config.d_model, want.d_model);
  EXPECT_EQ(loaded.config.heads, want.heads);
  EXPECT_EQ(loaded.config.seq_len, want.seq_len);
  EXPECT_EQ(loaded.config.vocab_size, want.vocab_size);
  EXPECT_EQ(loaded.config.ln_eps, want.ln_eps);
  EXPECT_EQ(loaded.attrs, attrs);
  ASSERT_EQ(loaded.params.size(), params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(loaded.params[i].first, params[i].first) << "parameters come back in the order written";
    expect_bitwise_equal(loaded.params[i].second, params[i].second, params[i].first);
  }
}

TEST(WeightsFile, OverwritesAtomicallyAndReadsSingleParts) {
  TempDir dir;
  std::string path = dir.file("model.h5");
  save_weights(path, small_config(), sample_params(), {});
  NamedTensors second{{"wte", filled({7, 5}, 9.0f)}};
  save_weights(path, small_config(), second, {});
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  WeightsFile loaded = load_weights(path);
  ASSERT_EQ(loaded.params.size(), 1u);
  expect_bitwise_equal(read_weights_tensor(path, "wte"), second[0].second, "wte");
  EXPECT_EQ(read_weights_config(path).vocab_size, 7);
  std::string msg = error_of([&] { read_weights_tensor(path, "wpe"); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("wpe"), std::string::npos) << msg;
}

TEST(WeightsFile, LargeStringAttribute) {
  TempDir dir;
  std::string path = dir.file("model.h5");
  std::string big;
  for (int i = 0; big.size() < 3 * 1024 * 1024; ++i) big += fmt::format("\"tok{}\": {},\n", i, i);
  save_weights(path, small_config(), {{"wte", filled({7, 5}, 1.0f)}}, {{"tokenizer", big}});
  EXPECT_EQ(load_weights(path).attrs.at("tokenizer"), big);
}

TEST(WeightsFileErrors, MissingFile) {
  TempDir dir;
  std::string path = dir.file("nope.h5");
  std::string msg = error_of([&] { load_weights(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
}

TEST(WeightsFileErrors, GarbageFile) {
  TempDir dir;
  std::string path = dir.file("garbage.h5");
  testing::write_text(path, std::string(4096, 'x') + "this is not HDF5");
  std::string msg = error_of([&] { load_weights(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("not an HDF5 file"), std::string::npos) << msg;
}

TEST(WeightsFileErrors, TruncatedFile) {
  TempDir dir;
  std::string path = dir.file("model.h5");
  save_weights(path, small_config(), {{"wte", filled({64, 64}, 1.0f)}}, {});
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  std::string msg = error_of([&] { load_weights(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(WeightsFileErrors, NoModelGroup) {
  TempDir dir;
  std::string path = dir.file("other.h5");
  Hdf5File file = Hdf5File::create(path);
  file.create_group("/weights");
  file.close();
  std::string msg = error_of([&] { load_weights(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("/model"), std::string::npos) << msg;
}

void write_model_group(const std::string& path, const std::string& skip_attr) {
  Hdf5File file = Hdf5File::create(path);
  file.create_group("/model");
  for (const char* key : {"layers", "d_model", "heads", "seq_len", "vocab_size"})
    if (skip_attr != key) file.set_attr_i64("/model", key, 4);
  file.write_dataset("/model/wte", filled({4, 4}, 0.0f));
  file.close();
}

TEST(WeightsFileErrors, MissingConfigAttribute) {
  TempDir dir;
  for (const char* key : {"layers", "d_model", "heads", "seq_len", "vocab_size"}) {
    std::string path = dir.file(fmt::format("no-{}.h5", key));
    write_model_group(path, key);
    std::string msg = error_of([&] { load_weights(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(fmt::format("'{}'", key)), std::string::npos) << msg;
  }
}

TEST(WeightsFileErrors, LnEpsIsOptional) {
  TempDir dir;
  std::string path = dir.file("model.h5");
  write_model_group(path, "");
  EXPECT_EQ(load_weights(path).config.ln_eps, 1e-5f);
}

TEST(WeightsFileErrors, NonFloatDataset) {
  TempDir dir;
  std::string path = dir.file("model.h5");
  {
    Hdf5File file = Hdf5File::create(path);
    file.create_group("/model");
    for (const char* key : {"layers", "d_model", "heads", "seq_len", "vocab_size"}) file.set_attr_i64("/model", key, 4);
    file.write_dataset("/model/blocks.0.ln1.weight", Tensor::zeros({4}, DType::I32));
    file.close();
  }
  std::string msg = error_of([&] { load_weights(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("blocks.0.ln1.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("float32"), std::string::npos) << msg;
}

TEST(WeightsFileErrors, NestedGroupInsteadOfDataset) {
  TempDir dir;
  std::string path = dir.file("model.h5");
  Hdf5File file = Hdf5File::create(path);
  file.create_group("/model");
  for (const char* key : {"layers", "d_model", "heads", "seq_len", "vocab_size"}) file.set_attr_i64("/model", key, 4);
  file.create_group("/model/blocks");
  file.close();
  std::string msg = error_of([&] { load_weights(path); });
  EXPECT_NE(msg.find("/model/blocks"), std::string::npos) << msg;
}

TEST(WeightsFileErrors, WrongFormatAndBadConfig) {
  TempDir dir;
  std::string path = dir.file("model.h5");
  {
    Hdf5File file = Hdf5File::create(path);
    file.create_group("/model");
    file.set_attr_str("/model", "format", "something-else");
    file.close();
  }
  std::string msg = error_of([&] { load_weights(path); });
  EXPECT_NE(msg.find("something-else"), std::string::npos) << msg;

  {
    Hdf5File file = Hdf5File::create(path);
    file.create_group("/model");
    for (const char* key : {"layers", "d_model", "seq_len", "vocab_size"}) file.set_attr_i64("/model", key, 6);
    file.set_attr_i64("/model", "heads", 4);
    file.close();
  }
  msg = error_of([&] { load_weights(path); });
  EXPECT_NE(msg.find("heads"), std::string::npos) << msg;
  EXPECT_NE(msg.find("d_model"), std::string::npos) << msg;
}

}  // namespace
}  // namespace pouch
