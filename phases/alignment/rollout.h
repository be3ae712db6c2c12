#pragma once
// Rollouts of alignment (PPO, GRPO): the step's prompts, sampled completions
// and the packed [rows, T] batch the policy, reference and value model read.
//
// Determinism: prompt p of global step s is training sample
// s * prompts_per_step + p of the built-in task (levels prompt_min_level..
// prompt_max_level, no corruption), and sample j of that prompt draws its
// tokens from RngStream(seed, derive_stream("align.rollout", prompt_index * G
// + j)). Both are pure functions of indices: every tensor-parallel rank makes
// the same choices, the data-parallel split changes nothing, and a resumed run
// redraws exactly what the uninterrupted one drew.
//
// Packing: a sample's row is prompt + actions, where the actions are the
// generated tokens plus the end-of-sample token when the model emitted it
// (learning to stop is part of the policy). tokens[t] = row[t], targets[t] =
// row[t + 1] at action positions (t >= prompt_len - 1), -1 elsewhere; rows are
// padded with token 0 / target -1 to T = seq_len (the generator never exceeds
// the context, so every row fits).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "data/char_tokenizer.h"
#include "model/gpt.h"
#include "phases/alignment/reward_scorer.h"

namespace pouch {

struct RolloutPrompt {
  std::int64_t index = 0;  // global: step * prompts_per_step + p
  std::string text;        // "Q: 37+58="
  std::int64_t answer = 0;
  std::vector<std::int32_t> tokens;
};

// Prompts [first, first + count) of the global prompt stream (see the top).
std::vector<RolloutPrompt> draw_prompts(const CharTokenizer& tok, std::int64_t first, std::int64_t count, int min_level,
                                        int max_level, std::uint64_t seed);

struct RolloutOptions {
  std::int64_t samples_per_prompt = 4;
  std::int64_t max_new_tokens = 64;
  float temperature = 1.0f;
  float top_p = 1.0f;
  std::uint64_t seed = 0;
  // The label of the sampling streams (derive_stream(stream, index * G + j)):
  // another label gives streams independent of the training rollouts'.
  const char* stream = "align.rollout";
};

// One sampled completion.
struct RolloutSample {
  std::int64_t prompt = 0;            // position in the prompt list given to generate_rollouts
  std::vector<std::int32_t> actions;  // generated tokens (+ the end token when it stopped), >= 1 when it stopped
  Completion completion;              // what the reward scorers read
};

// samples_per_prompt completions of every prompt, prompt-major (sample j of
// prompt i at i * G + j). The model runs in decode mode (its KV cache); every
// tensor-parallel rank must call it with the same prompts.
std::vector<RolloutSample> generate_rollouts(GPT& model, const CharTokenizer& tok,
                                             const std::vector<RolloutPrompt>& prompts, const RolloutOptions& opt);

// The packed batch of a list of samples, and where each sample's action
// tokens sit in it. Per-token arrays of the phase (logprobs, values, ...) hold
// the action tokens of every sample back to back in row order: sample r owns
// [offsets[r], offsets[r + 1]); its token k sits at flat position
// r * T + prompt_len_r - 1 + k of tokens/targets.
struct PackedRollouts {
  std::int64_t rows = 0, T = 0;
  Tensor tokens, targets;               // [rows, T] int32 on the host (GPT::forward copies them up)
  std::vector<std::int64_t> offsets;    // (rows + 1,)
  std::vector<std::int64_t> positions;  // (tokens,) flat index into [rows * T] of each action token
  std::int64_t action_tokens() const { return offsets.back(); }
};

PackedRollouts pack_rollouts(const std::vector<RolloutPrompt>& prompts, const std::vector<RolloutSample>& samples,
                             std::int64_t T);

// out[k] = per_position[positions[k]] (e.g. -token_losses() at the actions),
// for the positions of rows [row0, row0 + nrows) read from a forward of those
// rows only (per_position [nrows * T]).
void gather_actions(const PackedRollouts& batch, std::int64_t row0, std::int64_t nrows, const float* per_position,
                    float sign, std::span<float> out);
// As above from a tensor of be's device: on a device it is read back first
// (one copy, one host sync: the allowed read of a rollout chunk).
void gather_actions(Backend& be, const PackedRollouts& batch, std::int64_t row0, std::int64_t nrows,
                    const Tensor& per_position, float sign, std::span<float> out);

}  // namespace pouch
