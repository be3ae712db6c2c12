#include "data/arith_problem.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "runtime/error.h"

namespace pouch {

namespace {

std::vector<int> digits_lsb_first(std::int64_t x) {
  std::vector<int> d;
  do {
    d.push_back(static_cast<int>(x % 10));
    x /= 10;
  } while (x > 0);
  return d;
}

// Uniform in [lo, hi].
std::int64_t draw(RngStream& rng, std::int64_t lo, std::int64_t hi) {
  return lo + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(hi - lo + 1)));
}

}  // namespace

std::vector<std::string> column_add_steps(std::int64_t a, std::int64_t b) {
  POUCH_CHECK(a >= 0 && b >= 0);
  auto da = digits_lsb_first(a), db = digits_lsb_first(b);
  const std::size_t n = std::max(da.size(), db.size());
  da.resize(n, 0);
  db.resize(n, 0);
  std::vector<std::string> steps;
  int carry = 0;
  for (std::size_t i = 0; i < n; ++i) {
    int sum = da[i] + db[i] + carry;
    steps.push_back(carry ? fmt::format("{}+{}+{}={}", da[i], db[i], carry, sum)
                          : fmt::format("{}+{}={}", da[i], db[i], sum));
    carry = sum / 10;
  }
  return steps;
}

std::vector<std::string> column_sub_steps(std::int64_t a, std::int64_t b) {
  POUCH_CHECK(a >= b && b >= 0);
  auto da = digits_lsb_first(a), db = digits_lsb_first(b);
  db.resize(da.size(), 0);
  std::vector<std::string> steps;
  int borrow = 0;
  for (std::size_t i = 0; i < da.size(); ++i) {
    // Borrow ten when this column cannot pay b's digit plus the borrow owed.
    int top = da[i];
    int next_borrow = 0;
    if (top - borrow < db[i]) {
      top += 10;
      next_borrow = 1;
    }
    int diff = top - db[i] - borrow;
    steps.push_back(borrow ? fmt::format("{}-{}-1={}", top, db[i], diff) : fmt::format("{}-{}={}", top, db[i], diff));
    borrow = next_borrow;
  }
  return steps;
}

std::vector<std::string> column_mul_steps(std::int64_t a, std::int64_t b) {
  POUCH_CHECK(a >= 0 && b >= 0 && b <= 9);
  std::vector<std::string> steps;
  std::int64_t carry = 0;
  for (int d : digits_lsb_first(a)) {
    std::int64_t product = d * b + carry;
    steps.push_back(carry ? fmt::format("{}*{}+{}={}", d, b, carry, product) : fmt::format("{}*{}={}", d, b, product));
    carry = product / 10;
  }
  return steps;
}

std::string ArithProblem::expression() const {
  switch (op) {
    case ArithOp::Add:
      return fmt::format("{}+{}", a, b);
    case ArithOp::Sub:
      return fmt::format("{}-{}", a, b);
    case ArithOp::Mul:
      return fmt::format("{}*{}", a, b);
    case ArithOp::AddMul:
      return fmt::format("{}+{}*{}", a, b, c);
    case ArithOp::SubMul:
      return fmt::format("{}-{}*{}", a, b, c);
    case ArithOp::SumTimes:
      return fmt::format("({}+{})*{}", a, b, c);
    case ArithOp::DiffTimes:
      return fmt::format("({}-{})*{}", a, b, c);
    case ArithOp::Add3:
      return fmt::format("{}+{}+{}", a, b, c);
  }
  return {};
}

std::int64_t ArithProblem::answer() const {
  switch (op) {
    case ArithOp::Add:
      return a + b;
    case ArithOp::Sub:
      return a - b;
    case ArithOp::Mul:
      return a * b;
    case ArithOp::AddMul:
      return a + b * c;
    case ArithOp::SubMul:
      return a - b * c;
    case ArithOp::SumTimes:
      return (a + b) * c;
    case ArithOp::DiffTimes:
      return (a - b) * c;
    case ArithOp::Add3:
      return a + b + c;
  }
  return 0;
}

std::vector<std::string> ArithProblem::steps() const {
  switch (op) {
    case ArithOp::Add:
      return column_add_steps(a, b);
    case ArithOp::Sub:
      return column_sub_steps(a, b);
    case ArithOp::Mul:
      return column_mul_steps(a, b);
    case ArithOp::AddMul:
      return {fmt::format("{}*{}={}", b, c, b * c), fmt::format("{}+{}={}", a, b * c, a + b * c)};
    case ArithOp::SubMul:
      return {fmt::format("{}*{}={}", b, c, b * c), fmt::format("{}-{}={}", a, b * c, a - b * c)};
    case ArithOp::SumTimes:
      return {fmt::format("{}+{}={}", a, b, a + b), fmt::format("{}*{}={}", a + b, c, (a + b) * c)};
    case ArithOp::DiffTimes:
      return {fmt::format("{}-{}={}", a, b, a - b), fmt::format("{}*{}={}", a - b, c, (a - b) * c)};
    case ArithOp::Add3:
      return {fmt::format("{}+{}={}", a, b, a + b), fmt::format("{}+{}={}", a + b, c, a + b + c)};
  }
  return {};
}

std::string_view ArithProblem::operation() const {
  switch (op) {
    case ArithOp::Add:
      return "add";
    case ArithOp::Sub:
      return "sub";
    case ArithOp::Mul:
      return "mul";
    case ArithOp::Add3:
      return "add3";
    default:
      return "expr";
  }
}

ArithProblem random_problem(int level, RngStream& rng) {
  ArithProblem p;
  switch (level) {
    case 1:
      p = {ArithOp::Add, draw(rng, 0, 9), draw(rng, 0, 9), 0};
      break;
    case 2:
      p = {ArithOp::Add, draw(rng, 10, 99), draw(rng, 10, 99), 0};
      break;
    case 3: {
      // One third each: two-digit subtraction, three-digit subtraction, three-digit addition.
      auto kind = rng.below(3);
      std::int64_t lo = kind == 0 ? 10 : 100, hi = kind == 0 ? 99 : 999;
      p = {kind == 2 ? ArithOp::Add : ArithOp::Sub, draw(rng, lo, hi), draw(rng, lo, hi), 0};
      if (p.op == ArithOp::Sub && p.a < p.b) std::swap(p.a, p.b);
      break;
    }
    case 4: {
      bool three_digits = rng.below(2) == 1;
      p = {ArithOp::Mul, three_digits ? draw(rng, 100, 999) : draw(rng, 10, 99), draw(rng, 2, 9), 0};
      break;
    }
    case 5: {
      switch (rng.below(4)) {
        case 0:
          p = {ArithOp::AddMul, draw(rng, 10, 99), draw(rng, 2, 9), draw(rng, 2, 9)};
          break;
        case 1:
          p.op = ArithOp::SubMul;
          p.b = draw(rng, 2, 9);
          p.c = draw(rng, 2, 9);
          p.a = draw(rng, std::max<std::int64_t>(10, p.b * p.c), 99);
          break;
        case 2:
          p = {ArithOp::SumTimes, draw(rng, 10, 49), draw(rng, 10, 49), draw(rng, 2, 9)};
          break;
        default:
          p = {ArithOp::DiffTimes, draw(rng, 10, 99), draw(rng, 10, 99), draw(rng, 2, 9)};
          if (p.a < p.b) std::swap(p.a, p.b);
          break;
      }
      break;
    }
    case 6:
      p = {ArithOp::Add3, draw(rng, 10, 99), draw(rng, 10, 99), draw(rng, 10, 99)};
      break;
    default:
      POUCH_CHECK(false, "task level {} outside 1..{}", level, kMaxAnyTaskLevel);
  }
  return p;
}

namespace {

// Splits "(12+3)*4" into numbers and single-character symbols; nullopt on anything else.
struct ExprToken {
  char symbol = 0;  // 0 for a number
  std::int64_t value = 0;
};

std::optional<std::vector<ExprToken>> lex(std::string_view s) {
  std::vector<ExprToken> out;
  std::size_t i = 0;
  while (i < s.size()) {
    char ch = s[i];
    if (ch >= '0' && ch <= '9') {
      std::size_t j = i;
      while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
      if (j - i > 9) return std::nullopt;
      ExprToken t;
      std::from_chars(s.data() + i, s.data() + j, t.value);
      out.push_back(t);
      i = j;
    } else if (ch == '+' || ch == '-' || ch == '*' || ch == '(' || ch == ')') {
      out.push_back({ch, 0});
      ++i;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

bool matches(const std::vector<ExprToken>& t, std::string_view shape) {
  if (t.size() != shape.size()) return false;
  for (std::size_t i = 0; i < t.size(); ++i)
    if (shape[i] == 'n' ? t[i].symbol != 0 : t[i].symbol != shape[i]) return false;
  return true;
}

}  // namespace

std::optional<ArithProblem> problem_from_expression(std::string_view expression) {
  auto lexed = lex(expression);
  if (!lexed) return std::nullopt;
  const auto& t = *lexed;
  ArithProblem p;
  if (matches(t, "n+n"))
    p = {ArithOp::Add, t[0].value, t[2].value, 0};
  else if (matches(t, "n-n"))
    p = {ArithOp::Sub, t[0].value, t[2].value, 0};
  else if (matches(t, "n*n"))
    p = {ArithOp::Mul, t[0].value, t[2].value, 0};
  else if (matches(t, "n+n+n"))
    p = {ArithOp::Add3, t[0].value, t[2].value, t[4].value};
  else if (matches(t, "n+n*n"))
    p = {ArithOp::AddMul, t[0].value, t[2].value, t[4].value};
  else if (matches(t, "n-n*n"))
    p = {ArithOp::SubMul, t[0].value, t[2].value, t[4].value};
  else if (matches(t, "(n+n)*n"))
    p = {ArithOp::SumTimes, t[1].value, t[3].value, t[6].value};
  else if (matches(t, "(n-n)*n"))
    p = {ArithOp::DiffTimes, t[1].value, t[3].value, t[6].value};
  else
    return std::nullopt;
  if (p.answer() < 0) return std::nullopt;
  if (p.op == ArithOp::DiffTimes && p.a < p.b) return std::nullopt;
  if (p.op == ArithOp::Mul && p.b > 9) return std::nullopt;
  return p;
}

}  // namespace pouch
