#pragma once
// Autoregressive generation with a KV cache, one sequence alone or many
// decoded together (continuous batching).
//
// Each sequence (GenerationSequence) owns its KV cache, position, options and
// random stream. Generator::step() runs one decode step over a batch of
// sequences: each feeds one token (the next prompt token while prefilling,
// else its last generated one) at its own position, all through one forward
// (GPT::decode_batch), and each that has fed its whole prompt then samples
// its next token from its own logits row with its own settings. A sequence
// may join a batch at any step and leaves when done, so the tokens it gets
// depend only on its prompt, options and seed, never on its neighbours.
//
// Threads: a Generator and the GPT under it (its decode scratch) belong to
// one thread at a time; sequences are plain data the caller moves between
// threads.
#include <cstdint>
#include <span>
#include <vector>

#include "model/gpt.h"
#include "model/sampling.h"

namespace pouch {

struct GenerateOptions {
  SamplingOptions sampling;
  std::int64_t max_tokens = 64;
  std::int32_t stop_token = -1;  // generation ends after this token (not returned); -1 = none
  // Ids a sampler may choose: [0, decodable_vocab); 0 = the model's whole
  // vocabulary. Set it to the tokenizer's size: a model's vocabulary may be
  // larger (a plain config's vocab_size over a small tokenizer's alphabet),
  // and ids past the tokenizer's cannot be decoded.
  std::int64_t decodable_vocab = 0;
};

class GenerationSequence {
 public:
  bool done() const { return done_; }
  // Generated tokens so far, without the prompt (and never the stop token).
  const std::vector<std::int32_t>& generated() const { return out_; }

 private:
  friend class Generator;
  std::vector<std::int32_t> prompt_;
  GenerateOptions opt_;
  RngStream rng_;
  KVCache cache_;
  std::int64_t pos_ = 0;  // tokens already in the cache
  std::vector<std::int32_t> out_;
  bool done_ = false;
};

class Generator {
 public:
  explicit Generator(GPT& model);

  // One prompt alone, to the end: the prompt fed token by token (prefill),
  // then each new token sampled and fed back. Stops at stop_token,
  // max_tokens or the model's context length. Returns the generated tokens.
  std::vector<std::int32_t> generate(const std::vector<std::int32_t>& prompt, const GenerateOptions& opt,
                                     RngStream& rng);

  // A sequence ready to join step(). Throws pouch::Error for an empty prompt,
  // one that fills the context, an id outside the vocabulary, or a
  // decodable_vocab outside [0, vocab].
  GenerationSequence start(const std::vector<std::int32_t>& prompt, const GenerateOptions& opt, RngStream rng) const;
  // One decode step over every sequence of `batch` that is not done (those
  // that are are skipped).
  void step(std::span<GenerationSequence* const> batch);

 private:
  GPT& model_;
  Tensor tokens_;       // [B] host: the tokens fed this step (GPT copies them to the device)
  Tensor logits_;       // [B, V] on the backend's device
  Tensor host_logits_;  // logits_ itself on the CPU, else its host copy (one sync per step)
};

}  // namespace pouch
