// Batched generation (continuous batching) against one-at-a-time generation,
// and the sampler's restriction to the ids a tokenizer can decode.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "model/generator.h"
#include "model/gpt.h"
#include "runtime/rng.h"

namespace pouch {
namespace {

GPTConfig batch_config() {
  GPTConfig c;
  c.layers = 2;
  c.d_model = 16;
  c.heads = 4;
  c.seq_len = 24;
  c.vocab_size = 40;
  return c;
}

// init_weights scaled up, so the logits are far from uniform and greedy and
// sampled tokens both depend on every weight.
void init_peaked(GPT& m, std::uint64_t seed) {
  m.init_weights(seed);
  for (auto& p : m.parameters())
    for (std::int64_t i = 0; i < p.value.numel(); ++i) p.value.f32()[i] *= 12.0f;
}

std::vector<std::int32_t> prompt_of(std::size_t length, std::int32_t first) {
  std::vector<std::int32_t> p(length);
  for (std::size_t i = 0; i < length; ++i) p[i] = static_cast<std::int32_t>((first + 7 * i) % 31);
  return p;
}

// Six requests of different prompt lengths and settings, joining a running
// batch at different steps, give exactly the tokens each gets alone.
TEST(Generator, BatchedDecodeMatchesOneAtATime) {
  auto be = make_backend(Device::CPU);
  GPT m(batch_config(), *be);
  init_peaked(m, 5);
  Generator gen(m);

  struct Request {
    std::vector<std::int32_t> prompt;
    GenerateOptions opt;
    std::uint64_t seed;
    int joins_at;  // the batch step at which it joins
  };
  std::vector<Request> requests;
  for (int i = 0; i < 6; ++i) {
    Request r{prompt_of(1 + 3 * i % 7, i), {}, 100u + i, 2 * i};
    r.opt.max_tokens = 6 + i;
    r.opt.stop_token = i == 3 ? 4 : -1;
    if (i % 2 == 1) {  // seeded sampling; the even ones are greedy
      r.opt.sampling.temperature = 1.3f;
      r.opt.sampling.top_k = i == 5 ? 9 : 0;
      r.opt.sampling.top_p = i == 3 ? 0.8f : 1.0f;
    }
    requests.push_back(r);
  }
  std::vector<std::vector<std::int32_t>> alone;
  for (const Request& r : requests) {
    RngStream rng(r.seed, 1);
    alone.push_back(gen.generate(r.prompt, r.opt, rng));
  }

  std::vector<GenerationSequence> seqs(requests.size());
  std::vector<GenerationSequence*> active;
  std::size_t joined = 0;
  for (int step = 0; joined < requests.size() || !active.empty(); ++step) {
    while (joined < requests.size() && requests[joined].joins_at <= step) {
      const Request& r = requests[joined];
      seqs[joined] = gen.start(r.prompt, r.opt, RngStream(r.seed, 1));
      active.push_back(&seqs[joined++]);
    }
    gen.step(active);
    std::erase_if(active, [](GenerationSequence* s) { return s->done(); });
  }
  bool sampled_differs_from_greedy = false;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(seqs[i].generated(), alone[i]) << "request " << i;
    EXPECT_FALSE(alone[i].empty()) << "request " << i;
    if (i % 2 == 1) {
      GenerateOptions greedy = requests[i].opt;
      greedy.sampling = SamplingOptions{};
      RngStream rng(0, 0);
      sampled_differs_from_greedy |= gen.generate(requests[i].prompt, greedy, rng) != alone[i];
    }
  }
  EXPECT_TRUE(sampled_differs_from_greedy) << "the sampled requests must exercise sampling, not argmax";
}

// A model whose vocabulary (40) is larger than its tokenizer's (31): without
// the limit the model picks ids >= 31 (this model does); with it, never.
TEST(Generator, SamplesOnlyDecodableIds) {
  auto be = make_backend(Device::CPU);
  GPT m(batch_config(), *be);
  init_peaked(m, 11);
  Generator gen(m);
  constexpr std::int32_t kTokenizerVocab = 31;
  bool unrestricted_leaves = false;
  for (const float temperature : {0.0f, 1.0f, 3.0f}) {
    for (std::int32_t first = 0; first < 8; ++first) {
      GenerateOptions opt;
      opt.max_tokens = 16;
      opt.sampling.temperature = temperature;
      RngStream rng(first, 3);
      const auto free_ids = gen.generate(prompt_of(2, first), opt, rng);
      unrestricted_leaves |=
          std::any_of(free_ids.begin(), free_ids.end(), [](auto id) { return id >= kTokenizerVocab; });
      opt.decodable_vocab = kTokenizerVocab;
      const auto ids = gen.generate(prompt_of(2, first), opt, rng);
      EXPECT_EQ(ids.size(), 16u);
      for (auto id : ids) EXPECT_LT(id, kTokenizerVocab) << "temperature " << temperature;
    }
  }
  EXPECT_TRUE(unrestricted_leaves)
      << "the model should reach ids beyond the tokenizer's for this test to mean anything";
  GenerateOptions bad;
  bad.decodable_vocab = 41;
  EXPECT_THROW(gen.start({1}, bad, RngStream(1, 1)), Error);
}

}  // namespace
}  // namespace pouch
