#include "data/task_checker.h"

#include <charconv>

#include "data/arith_problem.h"

namespace pouch {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::optional<std::int64_t> parse_number(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  for (char c : s)
    if (!is_digit(c)) return std::nullopt;
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

bool consume(std::string_view& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  s.remove_prefix(prefix.size());
  return true;
}

// Recursive descent: expr = term (('+'|'-') term)*, term = factor ('*' factor)*,
// factor = number | '(' expr ')'.
class Evaluator {
 public:
  explicit Evaluator(std::string_view s) : s_(s) {}

  std::optional<std::int64_t> run() {
    auto v = expr();
    if (!v || pos_ != s_.size()) return std::nullopt;
    return v;
  }

 private:
  std::optional<std::int64_t> expr() {
    auto v = term();
    while (v && pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) {
      char op = s_[pos_++];
      auto rhs = term();
      if (!rhs) return std::nullopt;
      std::int64_t out;
      if (op == '+' ? __builtin_add_overflow(*v, *rhs, &out) : __builtin_sub_overflow(*v, *rhs, &out))
        return std::nullopt;
      v = out;
    }
    return v;
  }

  std::optional<std::int64_t> term() {
    auto v = factor();
    while (v && pos_ < s_.size() && s_[pos_] == '*') {
      ++pos_;
      auto rhs = factor();
      std::int64_t out;
      if (!rhs || __builtin_mul_overflow(*v, *rhs, &out)) return std::nullopt;
      v = out;
    }
    return v;
  }

  std::optional<std::int64_t> factor() {
    if (pos_ >= s_.size()) return std::nullopt;
    if (s_[pos_] == '(') {
      ++pos_;
      auto v = expr();
      if (!v || pos_ >= s_.size() || s_[pos_] != ')') return std::nullopt;
      ++pos_;
      return v;
    }
    std::size_t start = pos_;
    while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
    return parse_number(s_.substr(start, pos_ - start));
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

bool step_is_true(std::string_view step) {
  auto eq = step.rfind('=');
  if (eq == std::string_view::npos) return false;
  auto lhs = evaluate_expression(step.substr(0, eq));
  auto rhs = parse_number(step.substr(eq + 1));
  return lhs && rhs && *lhs == *rhs;
}

bool is_expression_text(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c) && c != '+' && c != '-' && c != '*' && c != '(' && c != ')') return false;
  return true;
}

}  // namespace

std::optional<std::int64_t> evaluate_expression(std::string_view expression) { return Evaluator(expression).run(); }

std::optional<std::int64_t> parse_answer(std::string_view text) {
  auto open = text.find("<ans>");
  if (open == std::string_view::npos) return std::nullopt;
  text.remove_prefix(open + 5);
  auto close = text.find("</ans>");
  if (close == std::string_view::npos) return std::nullopt;
  return parse_number(text.substr(0, close));
}

std::optional<ParsedSample> parse_sample(std::string_view text) {
  if (auto nl = text.find('\n'); nl != std::string_view::npos) text = text.substr(0, nl);
  ParsedSample out;
  if (!consume(text, "Q: ")) return std::nullopt;
  auto eq = text.find("= <think>");
  if (eq == std::string_view::npos || !is_expression_text(text.substr(0, eq))) return std::nullopt;
  out.expression = std::string(text.substr(0, eq));
  text.remove_prefix(eq + 9);
  auto think_end = text.find("</think> <ans>");
  if (think_end == std::string_view::npos) return std::nullopt;
  std::string_view steps = text.substr(0, think_end);
  text.remove_prefix(think_end + 14);
  if (!text.ends_with("</ans>")) return std::nullopt;
  auto answer = parse_number(text.substr(0, text.size() - 6));
  if (!answer) return std::nullopt;
  out.answer = *answer;
  while (true) {
    auto sep = steps.find("; ");
    std::string_view step = steps.substr(0, sep);
    auto step_eq = step.rfind('=');
    if (step_eq == std::string_view::npos || !is_expression_text(step.substr(0, step_eq)) ||
        !parse_number(step.substr(step_eq + 1)))
      return std::nullopt;
    out.steps.emplace_back(step);
    if (sep == std::string_view::npos) break;
    steps.remove_prefix(sep + 2);
  }
  return out;
}

SampleCheck check_sample(std::string_view text) {
  SampleCheck check;
  auto parsed = parse_sample(text);
  if (!parsed) return check;
  check.well_formed = true;
  auto value = evaluate_expression(parsed->expression);
  check.answer_correct = value && *value == parsed->answer;
  check.steps_true = true;
  for (const auto& step : parsed->steps) check.steps_true = check.steps_true && step_is_true(step);
  if (auto problem = problem_from_expression(parsed->expression))
    check.steps_canonical = problem->steps() == parsed->steps;
  return check;
}

}  // namespace pouch
