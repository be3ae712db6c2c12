// Rollouts of a model whose vocabulary is larger than its tokenizer's: the
// policy samples from its whole softmax (its log-probabilities are the ones
// PPO/GRPO train on), so it can draw ids the tokenizer lacks; the completion's
// text must end there instead of failing the phase.
#include <gtest/gtest.h>

#include <algorithm>

#include "data/char_tokenizer.h"
#include "model/gpt.h"
#include "phases/alignment/rollout.h"

namespace pouch {
namespace {

TEST(Rollout, IdsPastTheTokenizerEndTheTextAndStayInTheActions) {
  const CharTokenizer& tok = CharTokenizer::reasoning();
  GPTConfig c;
  c.layers = 1;
  c.d_model = 16;
  c.heads = 2;
  c.seq_len = 48;
  c.vocab_size = 4 * tok.vocab_size();  // 3/4 of a random init's mass is undecodable
  auto be = make_backend(Device::CPU);
  GPT model(c, *be);
  model.init_weights(3);
  const auto prompts = draw_prompts(tok, 0, 4, 1, 2, 11);
  RolloutOptions opt;
  opt.samples_per_prompt = 3;
  opt.max_new_tokens = 12;
  opt.seed = 5;
  const auto samples = generate_rollouts(model, tok, prompts, opt);
  ASSERT_EQ(samples.size(), 12u);
  int with_undecodable = 0;
  for (const auto& s : samples) {
    const auto first_bad =
        std::find_if(s.actions.begin(), s.actions.end(), [&](std::int32_t id) { return id >= tok.vocab_size(); });
    with_undecodable += first_bad != s.actions.end();
    const std::vector<std::int32_t> decodable(s.actions.begin(), first_bad);
    EXPECT_EQ(s.completion.text, tok.decode(decodable));
  }
  EXPECT_GT(with_undecodable, 0) << "the test needs rollouts that draw ids past the tokenizer";
}

}  // namespace
}  // namespace pouch
