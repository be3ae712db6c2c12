#pragma once
// Reads the built-in task's format back, e.g. from a model's generation, for
// exact-answer accuracy and for the coherence scorer of later phases.
//
// Well formed means: the text up to its first '\n' (or all of it) is exactly
//   Q: EXPR= <think>STEP; STEP; ...</think> <ans>NUMBER</ans>
// where EXPR is digits and + - * ( ), each STEP is EXPR=NUMBER, NUMBER is
// decimal digits, and there is at least one step.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pouch {

struct ParsedSample {
  std::string expression;
  std::vector<std::string> steps;  // "lhs=rhs"
  std::int64_t answer = 0;
};

std::optional<ParsedSample> parse_sample(std::string_view text);

// The number in the first "<ans>NUMBER</ans>" of the text; nullopt when there
// is none or it is not a non-negative decimal of at most 18 digits.
std::optional<std::int64_t> parse_answer(std::string_view text);

// Integer value of an expression of non-negative decimals, + - * and
// parentheses with the usual precedence; nullopt when malformed or overflowing.
std::optional<std::int64_t> evaluate_expression(std::string_view expression);

struct SampleCheck {
  bool well_formed = false;
  bool answer_correct = false;  // the answer is the question's value
  bool steps_true = false;      // every step is a true equation
  // The steps are exactly the task's worked steps for the question: its form
  // (levels 1..6, a+b+c included) is read back by problem_from_expression.
  bool steps_canonical = false;
  // A sample a clean generator would write.
  bool ok() const { return well_formed && answer_correct && steps_true && steps_canonical; }
};

SampleCheck check_sample(std::string_view text);

}  // namespace pouch
