#include "phases/task_eval.h"

#include "data/reasoning_task.h"
#include "data/task_checker.h"
#include "model/generator.h"

namespace pouch {

std::vector<LevelAccuracy> evaluate_task_accuracy(GPT& model, const CharTokenizer& tokenizer, int max_level,
                                                  std::int64_t per_level, std::uint64_t seed) {
  Generator generator(model);
  GenerateOptions opt;  // greedy
  opt.stop_token = tokenizer.eot_id();
  RngStream unused(seed, 0);  // greedy decoding draws nothing
  std::vector<LevelAccuracy> out;
  for (int level = 1; level <= max_level; ++level) {
    LevelAccuracy acc;
    acc.level = level;
    for (const auto& problem : held_out_problems(level, per_level, seed)) {
      const auto prompt = tokenizer.encode(problem.prompt);
      opt.max_tokens = model.config().seq_len - static_cast<std::int64_t>(prompt.size());
      const auto completion = generator.generate(prompt, opt, unused);
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
