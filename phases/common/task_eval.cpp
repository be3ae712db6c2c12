#include "phases/common/task_eval.h"

#include "data/reasoning_task.h"
#include "data/task_checker.h"
#include "model/generator.h"

namespace pouch {

std::vector<LevelAccuracy> evaluate_task_accuracy(GPT& model, const CharTokenizer& tokenizer, int min_level,
                                                  int max_level, std::int64_t per_level, std::uint64_t seed, int shard,
                                                  int shards) {
  Generator generator(model);
  GenerateOptions opt;  // greedy
  opt.stop_token = tokenizer.eot_id();
  RngStream unused(seed, 0);  // greedy decoding draws nothing
  std::vector<LevelAccuracy> out;
  for (int level = min_level; level <= max_level; ++level) {
    LevelAccuracy acc;
    acc.level = level;
    const auto problems = held_out_problems(level, per_level, seed);
    for (std::size_t i = static_cast<std::size_t>(shard); i < problems.size(); i += static_cast<std::size_t>(shards)) {
      const auto& problem = problems[i];
      const auto prompt = tokenizer.encode(problem.prompt);
      opt.max_tokens = model.config().seq_len - static_cast<std::int64_t>(prompt.size());
      auto completion = generator.generate(prompt, opt, unused);
      // A model whose vocabulary is larger than the tokenizer's can emit ids
      // the tokenizer lacks; such a completion ends there (and is wrong).
      for (std::size_t k = 0; k < completion.size(); ++k)
        if (completion[k] >= tokenizer.vocab_size()) completion.resize(k);
      const std::string text = problem.prompt + tokenizer.decode(completion);
      const auto answer = parse_answer(text);
      ++acc.total;
      if (answer && *answer == problem.answer) ++acc.correct;
      if (parse_sample(text)) ++acc.well_formed;
    }
    out.push_back(acc);
  }
  return out;
}

double overall_accuracy(const std::vector<LevelAccuracy>& levels) {
  std::int64_t correct = 0, total = 0;
  for (const auto& l : levels) {
    correct += l.correct;
    total += l.total;
  }
  return total > 0 ? static_cast<double>(correct) / static_cast<double>(total) : 0.0;
}

}  // namespace pouch
