// The golden test: from the same HDF5 weights and token batch, pouch and
// PyTorch (tests/oracle/torch_oracle.py) must agree on logits, loss, every
// parameter gradient, and the loss trajectory of 10 AdamW steps with
// clipping and selective weight decay. Odd sizes on purpose: vocab 211,
// seq 37, head size 20.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "checkpoint/weights_file.h"
#include "model/gpt.h"
#include "runtime/adamw_optimizer.h"
#include "runtime/rng.h"
#include "tests/support/python_oracle.h"
#include "tests/support/temp_dir.h"

namespace pouch {
namespace {

namespace fs = std::filesystem;

std::vector<float> read_floats(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing oracle output " << path;
  std::vector<float> v;
  float x;
  while (in.read(reinterpret_cast<char*>(&x), sizeof x)) v.push_back(x);
  return v;
}

void write_ints(const fs::path& path, const Tensor& t) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(t.i32()), static_cast<std::streamsize>(t.nbytes()));
}

// |a - b| <= 1e-5 + 1e-4 |b|, the tolerance; reports the worst element.
void expect_close(const float* got, const std::vector<float>& want, std::int64_t n, const std::string& what) {
  ASSERT_EQ(static_cast<std::int64_t>(want.size()), n) << what;
  double worst = 0;
  std::int64_t worst_i = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double err = std::fabs(double(got[i]) - want[i]) / (1e-5 + 1e-4 * std::fabs(want[i]));
    if (err > worst) worst = err, worst_i = i;
  }
  EXPECT_LE(worst, 1.0) << what << "[" << worst_i << "]: pouch " << got[worst_i] << " torch " << want[worst_i];
}

class TorchOracle : public ::testing::Test {
 protected:
  void SetUp() override {
    POUCH_REQUIRE_PYTHON_MODULES(POUCH_TORCH_PYTHON, "torch, h5py", "python3-torch python3-h5py");
  }
  pouch::testing::TempDir tmp_;
  const fs::path dir_ = tmp_.path();
};

TEST_F(TorchOracle, LogitsLossGradientsAndAdamWTrajectoryMatch) {
  GPTConfig cfg;
  cfg.layers = 2;
  cfg.d_model = 40;
  cfg.heads = 2;  // head size 20
  cfg.seq_len = 37;
  cfg.vocab_size = 211;
  const std::int64_t B = 3, T = 37, N = B * T;
  OptimConfig opt;
  opt.lr = 1e-3f;
  opt.weight_decay = 0.1f;
  opt.grad_clip = 1.0f;

  auto be = make_backend(Device::CPU);
  GPT model(cfg, *be);
  model.init_weights(1234);
  // Spread the weights so logits and gradients are far from zero everywhere.
  RngStream spread(77, 1);
  for (auto& p : model.parameters())
    for (std::int64_t i = 0; i < p.value.numel(); ++i) p.value.f32()[i] += 0.05f * spread.normal();
  save_weights((dir_ / "w.h5").string(), cfg, model.named_values(), {});

  Tensor x = Tensor::empty({B, T}, DType::I32), y = Tensor::empty({B, T}, DType::I32);
  RngStream rng(9, 9);
  for (std::int64_t i = 0; i < N; ++i) {
    x.i32()[i] = static_cast<std::int32_t>(rng.below(211));
    y.i32()[i] = static_cast<std::int32_t>(rng.below(211));
  }
  write_ints(dir_ / "x.bin", x);
  write_ints(dir_ / "y.bin", y);
  const std::string cmd = fmt::format(
      "{} {} --weights {} --tokens {} --targets {} --batch {} --seq {} --out {} --steps 10 --lr {} --beta1 {} "
      "--beta2 {} --eps {} --wd {} --clip {}",
      POUCH_TORCH_PYTHON, POUCH_ORACLE_SCRIPT, (dir_ / "w.h5").string(), (dir_ / "x.bin").string(),
      (dir_ / "y.bin").string(), B, T, (dir_ / "out").string(), opt.lr, opt.beta1, opt.beta2, opt.eps, opt.weight_decay,
      opt.grad_clip);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const fs::path out = dir_ / "out";

  // Logits first: a forward that prepares backward turns them into dlogits in place.
  const float loss_f = static_cast<float>(model.forward(x, y));
  expect_close(model.logits().f32(), read_floats(out / "logits.bin"), N * cfg.vocab_size, "logits");
  expect_close(&loss_f, read_floats(out / "loss.bin"), 1, "loss");
  model.parameters().zero_grad();
  model.forward(x, y, 1.0f / static_cast<float>(N));
  model.backward();
  for (const auto& p : model.parameters())
    expect_close(p.grad.f32(), read_floats(out / ("grad." + p.name + ".bin")), p.grad.numel(), "grad " + p.name);

  // 10 AdamW steps on the same batch from the same weights.
  GPT fresh(cfg, *be);
  fresh.load_named(model.named_values(), "oracle");
  AdamWOptimizer adamw(fresh.parameters(), opt, *be);
  std::vector<float> losses;
  for (int s = 0; s < 10; ++s) {
    fresh.parameters().zero_grad();
    losses.push_back(static_cast<float>(fresh.forward(x, y, 1.0f / static_cast<float>(N))));
    fresh.backward();
    adamw.step(opt.lr);
  }
  expect_close(losses.data(), read_floats(out / "losses.bin"), 10, "AdamW loss trajectory");
  EXPECT_LT(losses.back(), losses.front() - 0.1f) << "the 10 steps did not train";
}

}  // namespace
}  // namespace pouch
