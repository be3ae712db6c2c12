#pragma once
// The arithmetic problems of the built-in reasoning task, their worked steps
// and their difficulty levels (docs/data-format.md "Built-in reasoning task").
//
//   level 1  a+b        a, b in 0..9
//   level 2  a+b        a, b in 10..99
//   level 3  a-b        a >= b, both two-digit or both three-digit
//            a+b        a, b in 100..999
//   level 4  a*b        a in 10..99 or 100..999, b in 2..9
//   level 5  a+b*c  a-b*c  (a+b)*c  (a-b)*c   (small operands, see .cpp)
//   level 6  a+b+c      a, b, c in 10..99 (continual learning only: never
//                       drawn by pre-training, whose levels are 1..5)
//
// Steps are true equations "lhs=rhs". Addition, subtraction and
// multiplication by one digit go column by column from the units:
//   37+58   7+8=15; 3+5+1=9            (a carry shows as +1 in the next column)
//   52-18   12-8=4; 5-1-1=3            (a borrow shows as 10+digit, then -1)
//   347*6   7*6=42; 4*6+4=28; 3*6+2=20 (the carry is added in the next column)
// Level-5 expressions show their two sub-results: 12+7*8 -> 7*8=56; 12+56=68.
// Level 6 does the same with two sums: 37+58+12 -> 37+58=95; 95+12=107. It is
// new as an operation (three operands) but built from skills levels 2 and 5
// teach: two-digit sums and chaining a sub-result into a second equation.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/rng.h"

namespace pouch {

enum class ArithOp {
  Add,        // a+b
  Sub,        // a-b
  Mul,        // a*b, b one digit
  AddMul,     // a+b*c
  SubMul,     // a-b*c
  SumTimes,   // (a+b)*c
  DiffTimes,  // (a-b)*c
  Add3,       // a+b+c (level 6)
};

struct ArithProblem {
  ArithOp op = ArithOp::Add;
  std::int64_t a = 0, b = 0, c = 0;

  std::string expression() const;  // "37+58", "(45-18)*3"
  std::int64_t answer() const;
  std::vector<std::string> steps() const;  // each "lhs=rhs"
  // "add", "sub", "mul", "expr" (level-5 forms) or "add3" (level 6).
  std::string_view operation() const;
};

// The highest level pre-training draws (the default [data] task_max_level).
inline constexpr int kMaxTaskLevel = 5;
// The continual-learning level: drawn only when asked for by level.
inline constexpr int kContinualTaskLevel = 6;
// The highest level any generator accepts.
inline constexpr int kMaxAnyTaskLevel = kContinualTaskLevel;

// Draws a problem of `level` (1..kMaxAnyTaskLevel) from rng.
ArithProblem random_problem(int level, RngStream& rng);

// Recognises an expression in one of the forms above (without its level's
// operand ranges), e.g. from a model's output; nullopt otherwise or when its
// steps would need a negative number or a*b has b > 9.
std::optional<ArithProblem> problem_from_expression(std::string_view expression);

// Column steps, exposed for tests. Numbers must be non-negative; sub needs a >= b; mul needs b in 0..9.
std::vector<std::string> column_add_steps(std::int64_t a, std::int64_t b);
std::vector<std::string> column_sub_steps(std::int64_t a, std::int64_t b);
std::vector<std::string> column_mul_steps(std::int64_t a, std::int64_t b);

}  // namespace pouch
