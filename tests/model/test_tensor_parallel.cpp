// Tensor parallelism in one process: tp ranks on threads over the fake
// communicator must compute what one rank computes: the same loss, the same
// full logits in decoding, and gradients whose gathered full tensors equal
// the single-rank gradients. Odd sizes: vocab 29 does not split evenly.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <thread>
#include <vector>

#include "model/gpt.h"
#include "parallel/fake_communicator.h"
#include "runtime/rng.h"
#include "runtime/tensor_shard.h"
#include "tests/model/odd_tp_model.h"

namespace pouch {
namespace {

using test::odd_tp_config;
using test::odd_tp_tokens;

// Runs f(rank, group) on `size` threads, one fake communicator each.
void on_ranks(int size, const std::function<void(int, TensorParallelGroup)>& f) {
  auto comms = make_fake_group(size, "tp");
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) threads.emplace_back([&, r] { f(r, TensorParallelGroup(comms[r].get())); });
  for (auto& t : threads) t.join();
}

struct Result {
  double loss = 0;
  std::vector<std::pair<std::string, Tensor>> grads;  // full tensors
  Tensor decode_logits;                               // [1, V] after 3 decode steps
};

Result run(int tp) {
  std::vector<Result> results(static_cast<std::size_t>(tp));
  on_ranks(tp, [&](int rank, TensorParallelGroup group) {
    auto be = make_backend(Device::CPU);
    GPT m(odd_tp_config(), *be, group);
    m.init_weights(5);
    Tensor x = odd_tp_tokens(1), y = odd_tp_tokens(2);
    Result& r = results[static_cast<std::size_t>(rank)];
    m.parameters().zero_grad();
    r.loss = m.forward(x, y, 1.0f / 27.0f);
    m.backward();
    // Gather the gradients as full tensors, the way named_values() gathers values.
    for (auto& p : m.parameters()) {
      Tensor full = Tensor::zeros(p.full_shape);
      if (!p.shard.sharded()) {
        full.copy_from(p.grad);
      } else {
        const std::int64_t n = p.grad.numel();
        Tensor all = Tensor::empty({group.size() * n});
        group.communicator()->all_gather(all, p.grad.reshape({n}));
        for (int k = 0; k < group.size(); ++k) {
          ShardSpec s = p.shard;
          s.rank = k;
          copy_shard_to_full(s, all.view(k * n, p.shape), full);
        }
      }
      r.grads.emplace_back(p.name, full);
    }
    KVCache cache = m.make_cache(1, 9);
    Tensor tok = Tensor::empty({1}, DType::I32);
    r.decode_logits = Tensor::empty({1, 29});
    for (int pos = 0; pos < 3; ++pos) {
      tok.i32()[0] = x.i32()[pos];
      m.decode_step(tok, pos, cache, r.decode_logits);
    }
    // Every rank's named_values() must give the same full weights as tp = 1.
    auto named = m.named_values();
    GPT ref(odd_tp_config(), *be);
    ref.init_weights(5);
    auto want = ref.named_values();
    for (std::size_t i = 0; i < named.size(); ++i)
      for (std::int64_t k = 0; k < named[i].second.numel(); ++k)
        ASSERT_EQ(named[i].second.f32()[k], want[i].second.f32()[k]) << named[i].first;
  });
  for (int r = 1; r < tp; ++r) EXPECT_EQ(results[0].loss, results[static_cast<std::size_t>(r)].loss);
  return results[0];
}

void expect_close(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.numel(), b.numel()) << what;
  double diff = 0, norm = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    diff += std::pow(double(a.f32()[i]) - b.f32()[i], 2);
    norm += std::pow(double(b.f32()[i]), 2);
  }
  EXPECT_LE(std::sqrt(diff), 1e-5 * std::sqrt(norm) + 1e-7) << what;
}

TEST(TensorParallel, TwoAndFourRanksMatchOneRank) {
  const Result one = run(1);
  for (int tp : {2, 4}) {
    SCOPED_TRACE("tp=" + std::to_string(tp));
    const Result r = run(tp);
    EXPECT_NEAR(r.loss, one.loss, 1e-5 * one.loss);
    ASSERT_EQ(r.grads.size(), one.grads.size());
    for (std::size_t i = 0; i < r.grads.size(); ++i)
      expect_close(r.grads[i].second, one.grads[i].second, r.grads[i].first);
    expect_close(r.decode_logits, one.decode_logits, "decode logits");
  }
}

TEST(TensorParallel, PaddedVocabularyRowsStayZero) {
  on_ranks(4, [](int rank, TensorParallelGroup group) {
    auto be = make_backend(Device::CPU);
    GPT m(odd_tp_config(), *be, group);  // 29 -> 32 rows, 8 per rank; rank 3 holds 3 padding rows
    m.init_weights(5);
    EXPECT_EQ(m.local_vocab(), 8);
    Tensor x = odd_tp_tokens(1), y = odd_tp_tokens(2);
    m.parameters().zero_grad();
    m.forward(x, y, 1.0f / 27.0f);
    m.backward();
    if (rank == 3) {
      const Parameter* wte = m.parameters().find("wte");
      for (std::int64_t row = 5; row < 8; ++row)
        for (std::int64_t c = 0; c < 16; ++c) {
          EXPECT_EQ(wte->value.f32()[row * 16 + c], 0.0f);
          EXPECT_EQ(wte->grad.f32()[row * 16 + c], 0.0f);
        }
    }
  });
}

}  // namespace
}  // namespace pouch
