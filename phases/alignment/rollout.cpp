#include "phases/alignment/rollout.h"

#include "data/reasoning_task.h"
#include "data/stable_hash.h"
#include "model/generator.h"
#include "runtime/error.h"

namespace pouch {

std::vector<RolloutPrompt> draw_prompts(const CharTokenizer& tok, std::int64_t first, std::int64_t count, int min_level,
                                        int max_level, std::uint64_t seed) {
  std::vector<RolloutPrompt> out;
  out.reserve(static_cast<std::size_t>(count));
  for (std::int64_t i = first; i < first + count; ++i) {
    // No corruption: only the problem is used, and its answer is the truth.
    const TaskSample s = training_sample_in_levels(i, min_level, max_level, 0.0, seed);
    RolloutPrompt p;
    p.index = i;
    p.text = task_prompt(s.problem.expression());
    p.answer = s.problem.answer();
    p.tokens = tok.encode(p.text);
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<RolloutSample> generate_rollouts(GPT& model, const CharTokenizer& tok,
                                             const std::vector<RolloutPrompt>& prompts, const RolloutOptions& opt) {
  Generator gen(model);
  GenerateOptions g;
  g.sampling.temperature = opt.temperature;
  g.sampling.top_p = opt.top_p;
  g.max_tokens = opt.max_new_tokens;
  g.stop_token = tok.eot_id();
  const std::int64_t context = model.config().seq_len;
  std::vector<RolloutSample> out;
  out.reserve(prompts.size() * static_cast<std::size_t>(opt.samples_per_prompt));
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    const RolloutPrompt& p = prompts[i];
    for (std::int64_t j = 0; j < opt.samples_per_prompt; ++j) {
      const std::uint64_t key = static_cast<std::uint64_t>(p.index * opt.samples_per_prompt + j);
      RngStream rng(opt.seed, derive_stream(opt.stream, key));
      RolloutSample s;
      s.prompt = static_cast<std::int64_t>(i);
      s.actions = gen.generate(p.tokens, g, rng);
      // The generator drops the stop token; it stopped on it iff neither the
      // token limit nor the context ended it (generator.cpp's loop).
      const auto n = static_cast<std::int64_t>(s.actions.size());
      const auto P = static_cast<std::int64_t>(p.tokens.size());
      const bool stopped = n < opt.max_new_tokens && P + n <= context;
      if (stopped) s.actions.push_back(tok.eot_id());
      s.completion.prompt = p.text;
      // The sampler draws from the policy's whole softmax, so that the
      // actions' log-probabilities are the ones it sampled with; a model
      // whose vocabulary is larger than the tokenizer's can then draw an id
      // the tokenizer lacks. The completion's text ends there (and scores as
      // such), while the actions keep the id the policy is trained on.
      std::size_t decodable = 0;
      while (decodable < s.actions.size() && s.actions[decodable] < tok.vocab_size()) ++decodable;
      s.completion.text = tok.decode(std::span<const std::int32_t>(s.actions.data(), decodable));
      s.completion.tokens = static_cast<std::int64_t>(s.actions.size());
      s.completion.truncated = !stopped;
      s.completion.expected_answer = p.answer;
      out.push_back(std::move(s));
    }
  }
  return out;
}

PackedRollouts pack_rollouts(const std::vector<RolloutPrompt>& prompts, const std::vector<RolloutSample>& samples,
                             std::int64_t T) {
  PackedRollouts b;
  b.rows = static_cast<std::int64_t>(samples.size());
  b.T = T;
  b.tokens = Tensor::zeros({b.rows, T}, DType::I32);
  b.targets = Tensor::empty({b.rows, T}, DType::I32);
  std::int32_t* x = b.tokens.i32();
  std::int32_t* y = b.targets.i32();
  std::fill(y, y + b.rows * T, -1);
  b.offsets.assign(1, 0);
  for (std::int64_t r = 0; r < b.rows; ++r) {
    const RolloutSample& s = samples[static_cast<std::size_t>(r)];
    const auto& prompt = prompts[static_cast<std::size_t>(s.prompt)].tokens;
    const auto P = static_cast<std::int64_t>(prompt.size()), n = static_cast<std::int64_t>(s.actions.size());
    // The last action is a target only: the inputs are prompt + actions[0..n-2].
    POUCH_CHECK(n >= 1 && P + n - 1 <= T, "rollout of {} + {} tokens in a context of {}", P, n, T);
    std::int32_t* xr = x + r * T;
    std::int32_t* yr = y + r * T;
    for (std::int64_t t = 0; t < P; ++t) xr[t] = prompt[static_cast<std::size_t>(t)];
    for (std::int64_t k = 0; k + 1 < n; ++k) xr[P + k] = s.actions[static_cast<std::size_t>(k)];
    for (std::int64_t k = 0; k < n; ++k) {
      yr[P - 1 + k] = s.actions[static_cast<std::size_t>(k)];
      b.positions.push_back(r * T + P - 1 + k);
    }
    b.offsets.push_back(b.offsets.back() + n);
  }
  return b;
}

void gather_actions(Backend& be, const PackedRollouts& batch, std::int64_t row0, std::int64_t nrows,
                    const Tensor& per_position, float sign, std::span<float> out) {
  Tensor host = per_position;
  if (!per_position.on_host()) {
    host = Tensor::empty(per_position.shape(), per_position.dtype());
    be.copy(host, per_position);  // pageable: the one host sync of this read
  }
  gather_actions(batch, row0, nrows, host.f32(), sign, out);
}

void gather_actions(const PackedRollouts& batch, std::int64_t row0, std::int64_t nrows, const float* per_position,
                    float sign, std::span<float> out) {
  const std::int64_t begin = batch.offsets[static_cast<std::size_t>(row0)];
  const std::int64_t end = batch.offsets[static_cast<std::size_t>(row0 + nrows)];
  POUCH_CHECK(static_cast<std::int64_t>(out.size()) == end - begin, "gather of {} tokens into {}", end - begin,
              out.size());
  const std::int64_t base = row0 * batch.T;
  for (std::int64_t k = begin; k < end; ++k)
    out[static_cast<std::size_t>(k - begin)] = sign * per_position[batch.positions[static_cast<std::size_t>(k)] - base];
}

}  // namespace pouch
