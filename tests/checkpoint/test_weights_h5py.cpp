// Interoperability with h5py: the weights layout is a contract with outside
// tools (an oracle test writes weights from PyTorch; users inspect files).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/weights_file.h"
#include "checkpoint_test_util.h"

namespace pouch {
namespace {

using testing::TempDir;

std::vector<float> read_floats(const std::string& path) {
  std::string bytes = testing::read_text(path);
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

// Lines "name<TAB>d0 d1 ..." (an empty shape for a scalar).
std::vector<std::pair<std::string, Shape>> read_listing(const std::string& path) {
  std::vector<std::pair<std::string, Shape>> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto tab = line.find('\t');
    std::istringstream dims(line.substr(tab + 1));
    Shape shape;
    for (std::int64_t d; dims >> d;) shape.push_back(d);
    out.emplace_back(line.substr(0, tab), shape);
  }
  return out;
}

constexpr const char* kWriteWithH5py = R"PY(
import sys
import h5py
import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(7)
arrays = {
    "wte": rng.standard_normal((11, 6)).astype(np.float32),
    "wpe": rng.standard_normal((5, 6)).astype(np.float32),
    "blocks.0.attn.qkv.weight": rng.standard_normal((18, 6)).astype(np.float32),
    "blocks.0.attn.qkv.bias": rng.standard_normal(18).astype(np.float32),
    "lnf.weight": np.ones(6, np.float32),
    "as.float64": rng.standard_normal((3, 4)),
    "as.float16": rng.standard_normal(7).astype(np.float16),
}
with h5py.File(out + "/h5py.h5", "w") as f:
    g = f.create_group("model")
    for name, a in arrays.items():
        g.create_dataset(name, data=a)
    g.attrs["layers"] = 1
    g.attrs["d_model"] = 6
    g.attrs["heads"] = np.int32(2)
    g.attrs["seq_len"] = 5
    g.attrs["vocab_size"] = 11
    g.attrs["tokenizer"] = '{"type": "char"}'
    g.attrs["fixed"] = np.bytes_(b"fixed-length")
with open(out + "/listing.txt", "w") as listing:
    for name, a in arrays.items():
        listing.write(name + "\t" + " ".join(str(d) for d in a.shape) + "\n")
        a.astype(np.float32).tofile(out + "/" + name + ".f32")
)PY";

TEST(WeightsH5py, FileWrittenByH5pyLoads) {
  POUCH_SKIP_WITHOUT_H5PY();
  TempDir dir;
  std::string log;
  ASSERT_EQ(testing::run_python(dir, kWriteWithH5py, fmt::format("'{}'", dir.path().string()), &log), 0) << log;

  WeightsFile w = load_weights(dir.file("h5py.h5"));
  EXPECT_EQ(w.config.layers, 1);
  EXPECT_EQ(w.config.d_model, 6);
  EXPECT_EQ(w.config.heads, 2);
  EXPECT_EQ(w.config.seq_len, 5);
  EXPECT_EQ(w.config.vocab_size, 11);
  EXPECT_EQ(w.config.ln_eps, 1e-5f);
  EXPECT_EQ(w.attrs.at("tokenizer"), R"({"type": "char"})");
  EXPECT_EQ(w.attrs.at("fixed"), "fixed-length");

  auto listing = read_listing(dir.file("listing.txt"));
  ASSERT_EQ(w.params.size(), listing.size());
  for (const auto& entry : listing) {
    const std::string& name = entry.first;
    const Shape& shape = entry.second;
    auto it = std::find_if(w.params.begin(), w.params.end(), [&](const auto& p) { return p.first == name; });
    ASSERT_NE(it, w.params.end()) << name;
    const Tensor& t = it->second;
    EXPECT_EQ(t.shape(), shape) << name;
    std::vector<float> want = read_floats(dir.file(name + ".f32"));
    ASSERT_EQ(static_cast<std::int64_t>(want.size()), t.numel()) << name;
    EXPECT_EQ(0, std::memcmp(want.data(), t.raw(), t.nbytes())) << name << ": HDF5's conversion to f32 matches numpy's";
  }
}

constexpr const char* kReadWithH5py = R"PY(
import sys
import h5py
import numpy as np

path, out = sys.argv[1], sys.argv[2]
with h5py.File(path, "r") as f:
    g = f["model"]
    with open(out + "/listing.txt", "w") as listing:
        for name, d in g.items():
            assert d.dtype == np.float32, (name, d.dtype)
            listing.write(name + "\t" + " ".join(str(x) for x in d.shape) + "\n")
            np.asarray(d[()], dtype=np.float32).tofile(out + "/" + name + ".bin")
    with open(out + "/attrs.txt", "w") as attrs:
        for key, v in g.attrs.items():
            if isinstance(v, str):
                with open(out + "/attr." + key, "w", encoding="utf-8", newline="") as t:
                    t.write(v)
                attrs.write(key + "\tstr\n")
            elif isinstance(v, np.float32):
                attrs.write(key + "\tfloat32\t" + str(int(np.float32(v).view(np.uint32))) + "\n")
            else:
                attrs.write(key + "\t" + type(v).__name__ + "\t" + str(v) + "\n")
)PY";

TEST(WeightsH5py, FileWrittenByPouchReadsInH5py) {
  POUCH_SKIP_WITHOUT_H5PY();
  TempDir dir;
  std::string path = dir.file("pouch.h5");
  GPTConfig cfg;
  cfg.layers = 2;
  cfg.d_model = 6;
  cfg.heads = 3;
  cfg.seq_len = 9;
  cfg.vocab_size = 13;
  NamedTensors params;
  params.emplace_back("wte", Tensor::empty({13, 6}));
  params.emplace_back("blocks.1.mlp.fc.bias", Tensor::empty({24}));
  params.emplace_back("scalar", Tensor::empty({}));
  float v = -3.0f;
  for (auto& [name, t] : params)
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      v += 0.173f;
      t.f32()[i] = v * std::exp(v / 7.0f);
    }
  std::map<std::string, std::string> attrs{{"config", "[model]\nlayers = 2\n# comment\n"},
                                           {"tokenizer", "{\"x\": \"\xc3\xa9\"}"}};
  save_weights(path, cfg, params, attrs);

  std::string log;
  ASSERT_EQ(testing::run_python(dir, kReadWithH5py, fmt::format("'{}' '{}'", path, dir.path().string()), &log), 0)
      << log;

  auto listing = read_listing(dir.file("listing.txt"));
  ASSERT_EQ(listing.size(), params.size());
  for (const auto& param : params) {
    const std::string& name = param.first;
    const Tensor& t = param.second;
    auto it = std::find_if(listing.begin(), listing.end(), [&](const auto& l) { return l.first == name; });
    ASSERT_NE(it, listing.end()) << name;
    EXPECT_EQ(it->second, t.shape()) << name;
    std::vector<float> got = read_floats(dir.file(name + ".bin"));
    ASSERT_EQ(static_cast<std::int64_t>(got.size()), t.numel()) << name;
    EXPECT_EQ(0, std::memcmp(got.data(), t.raw(), t.nbytes())) << name;
  }

  std::map<std::string, std::string> seen;  // key -> "type value"
  std::ifstream in(dir.file("attrs.txt"));
  for (std::string line; std::getline(in, line);) {
    auto tab = line.find('\t');
    seen[line.substr(0, tab)] = line.substr(tab + 1);
  }
  EXPECT_EQ(seen["format"], "str");
  EXPECT_EQ(seen["format_version"], "int64\t1");
  EXPECT_EQ(seen["layers"], "int64\t2");
  EXPECT_EQ(seen["d_model"], "int64\t6");
  EXPECT_EQ(seen["heads"], "int64\t3");
  EXPECT_EQ(seen["seq_len"], "int64\t9");
  EXPECT_EQ(seen["vocab_size"], "int64\t13");
  EXPECT_EQ(seen["ln_eps"], fmt::format("float32\t{}", std::bit_cast<std::uint32_t>(cfg.ln_eps)));
  EXPECT_EQ(seen["config"], "str");
  EXPECT_EQ(seen["tokenizer"], "str");
  EXPECT_EQ(testing::read_text(dir.file("attr.format")), "pouch-weights");
  EXPECT_EQ(testing::read_text(dir.file("attr.config")), attrs["config"]);
  EXPECT_EQ(testing::read_text(dir.file("attr.tokenizer")), attrs["tokenizer"]);
}

}  // namespace
}  // namespace pouch
