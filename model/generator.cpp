#include "model/generator.h"

namespace pouch {

Generator::Generator(GPT& model) : model_(model) {
  cache_ = model_.make_cache(1, model_.config().seq_len);
  token_ = model_.backend().empty({1}, DType::I32);
  logits_ = model_.backend().empty({1, model_.config().vocab_size});
}

std::vector<std::int32_t> Generator::generate(const std::vector<std::int32_t>& prompt, const GenerateOptions& opt,
                                              RngStream& rng) {
  const std::int64_t context = model_.config().seq_len, vocab = model_.config().vocab_size;
  if (prompt.empty()) fail("generation needs a non-empty prompt");
  if (static_cast<std::int64_t>(prompt.size()) >= context)
    fail("the prompt has {} tokens, but the model's context ([model] seq_len) is {}", prompt.size(), context);
  for (auto id : prompt)
    if (id < 0 || id >= vocab) fail("prompt token id {} is outside the vocabulary [0, {})", id, vocab);

  std::int64_t pos = 0;
  for (auto id : prompt) {
    token_.i32()[0] = id;
    model_.decode_step(token_, pos++, cache_, logits_);
  }
  std::vector<std::int32_t> out;
  while (static_cast<std::int64_t>(out.size()) < opt.max_tokens) {
    const std::int32_t next = sample_token(logits_.f32(), vocab, opt.sampling, rng);
    if (next == opt.stop_token) break;
    out.push_back(next);
    if (pos >= context) break;
    token_.i32()[0] = next;
    model_.decode_step(token_, pos++, cache_, logits_);
  }
  return out;
}

}  // namespace pouch
