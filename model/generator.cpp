#include "model/generator.h"

#include "runtime/error.h"

namespace pouch {

Generator::Generator(GPT& model) : model_(model) {}

GenerationSequence Generator::start(const std::vector<std::int32_t>& prompt, const GenerateOptions& opt,
                                    RngStream rng) const {
  const std::int64_t context = model_.config().seq_len, vocab = model_.config().vocab_size;
  if (prompt.empty()) fail("generation needs a non-empty prompt");
  if (static_cast<std::int64_t>(prompt.size()) >= context)
    fail("the prompt has {} tokens, but the model's context ([model] seq_len) is {}", prompt.size(), context);
  for (auto id : prompt)
    if (id < 0 || id >= vocab) fail("prompt token id {} is outside the vocabulary [0, {})", id, vocab);
  if (opt.decodable_vocab < 0 || opt.decodable_vocab > vocab)
    fail("decodable_vocab {} is outside [0, {}] (the model's vocab_size)", opt.decodable_vocab, vocab);
  GenerationSequence seq;
  seq.prompt_ = prompt;
  seq.opt_ = opt;
  if (seq.opt_.decodable_vocab == 0) seq.opt_.decodable_vocab = vocab;
  seq.rng_ = rng;
  seq.done_ = opt.max_tokens <= 0;
  if (!seq.done_) seq.cache_ = model_.make_cache(1, context);
  return seq;
}

void Generator::step(std::span<GenerationSequence* const> batch) {
  std::vector<GenerationSequence*> live;
  for (GenerationSequence* s : batch)
    if (!s->done_) live.push_back(s);
  if (live.empty()) return;
  const auto B = static_cast<std::int64_t>(live.size());
  const std::int64_t vocab = model_.config().vocab_size, context = model_.config().seq_len;
  if (tokens_.numel() != B) {
    tokens_ = Tensor::empty({B}, DType::I32);
    logits_ = model_.backend().empty({B, vocab});
    host_logits_ = logits_.on_host() ? logits_ : Tensor::empty({B, vocab});
  }
  std::vector<std::int64_t> positions(live.size());
  std::vector<KVCache*> caches(live.size());
  for (std::int64_t b = 0; b < B; ++b) {
    GenerationSequence& s = *live[b];
    const auto prompt_len = static_cast<std::int64_t>(s.prompt_.size());
    tokens_.i32()[b] = s.pos_ < prompt_len ? s.prompt_[s.pos_] : s.out_.back();
    positions[b] = s.pos_;
    caches[b] = &s.cache_;
  }
  model_.decode_batch(tokens_, positions, caches, logits_);
  if (!logits_.on_host()) model_.backend().copy(host_logits_, logits_);  // the allowed sync per token
  for (std::int64_t b = 0; b < B; ++b) {
    GenerationSequence& s = *live[b];
    if (++s.pos_ < static_cast<std::int64_t>(s.prompt_.size())) continue;  // still prefilling
    const std::int32_t next =
        sample_token(host_logits_.f32() + b * vocab, s.opt_.decodable_vocab, s.opt_.sampling, s.rng_);
    if (next == s.opt_.stop_token) {
      s.done_ = true;
    } else {
      s.out_.push_back(next);
      // The token is returned but fed back only if there is a next step.
      s.done_ = static_cast<std::int64_t>(s.out_.size()) >= s.opt_.max_tokens || s.pos_ >= context;
    }
    if (s.done_) s.cache_ = KVCache();  // the memory goes back now, not when the caller drops the sequence
  }
}

std::vector<std::int32_t> Generator::generate(const std::vector<std::int32_t>& prompt, const GenerateOptions& opt,
                                              RngStream& rng) {
  GenerationSequence seq = start(prompt, opt, rng);
  GenerationSequence* batch[] = {&seq};
  while (!seq.done()) step(batch);
  rng = seq.rng_;
  return std::move(seq.out_);
}

}  // namespace pouch
