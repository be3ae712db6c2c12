#include "data/source_weight_rules.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "runtime/error.h"

namespace pouch {

namespace {

constexpr std::string_view kGrammar =
    "rules are SOURCE*FACTOR[@epoch CMP N] separated by ';' or ',', with FACTOR > 0, CMP one of < <= > >= ==, "
    "N >= 0; e.g. 'simple*0.8@epoch<10; complex*1.5@epoch>=10'";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A decimal ("1.5", "2", "1e-3"); from_chars also reads "inf" and "nan", which are refused.
bool parse_factor(std::string_view s, double& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(out);
}

bool parse_epoch(std::string_view s, std::int64_t& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && out >= 0;
}

std::string_view comparison_text(EpochComparison c) {
  switch (c) {
    case EpochComparison::Always:
      return "";
    case EpochComparison::Less:
      return "<";
    case EpochComparison::LessEqual:
      return "<=";
    case EpochComparison::Greater:
      return ">";
    case EpochComparison::GreaterEqual:
      return ">=";
    case EpochComparison::Equal:
      return "==";
  }
  return "?";
}

}  // namespace

bool SourceWeightRule::applies(std::string_view source_tag, std::int64_t e) const {
  if (source_tag != source) return false;
  switch (comparison) {
    case EpochComparison::Always:
      return true;
    case EpochComparison::Less:
      return e < epoch;
    case EpochComparison::LessEqual:
      return e <= epoch;
    case EpochComparison::Greater:
      return e > epoch;
    case EpochComparison::GreaterEqual:
      return e >= epoch;
    case EpochComparison::Equal:
      return e == epoch;
  }
  return false;
}

std::string SourceWeightRule::to_string() const {
  if (comparison == EpochComparison::Always) return fmt::format("{}*{}", source, factor);
  return fmt::format("{}*{}@epoch{}{}", source, factor, comparison_text(comparison), epoch);
}

SourceWeightRules SourceWeightRules::parse(std::string_view text, std::string_view key) {
  SourceWeightRules out;
  out.key_ = std::string(key);
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto sep = rest.find_first_of(";,");
    const std::string_view rule_text = trim(rest.substr(0, sep));
    rest = sep == std::string_view::npos ? std::string_view{} : rest.substr(sep + 1);
    if (rule_text.empty()) continue;  // "a*2;" or ";;": nothing between separators
    auto bad = [&](std::string_view why) { fail("{} = '{}': rule '{}' {}; {}", key, text, rule_text, why, kGrammar); };
    SourceWeightRule rule;
    const auto star = rule_text.find('*');
    if (star == std::string_view::npos) bad("has no '*FACTOR'");
    rule.source = std::string(trim(rule_text.substr(0, star)));
    if (rule.source.empty()) bad("has no source before '*'");
    if (rule.source.find_first_of(" \t@") != std::string::npos) bad("has a source with a space or '@'");
    std::string_view after = rule_text.substr(star + 1);
    const auto at = after.find('@');
    if (!parse_factor(trim(after.substr(0, at)), rule.factor) || !(rule.factor > 0))
      bad("needs a factor > 0 after '*'");
    if (at != std::string_view::npos) {
      std::string_view cond = trim(after.substr(at + 1));
      if (!cond.starts_with("epoch")) bad("needs 'epoch' after '@'");
      cond = trim(cond.substr(5));
      // Two-character operators first, so "<=" is not read as "<" then "=5".
      static constexpr std::pair<std::string_view, EpochComparison> kOps[] = {{"<=", EpochComparison::LessEqual},
                                                                              {">=", EpochComparison::GreaterEqual},
                                                                              {"==", EpochComparison::Equal},
                                                                              {"<", EpochComparison::Less},
                                                                              {">", EpochComparison::Greater}};
      bool found = false;
      for (const auto& [op, cmp] : kOps)
        if (cond.starts_with(op)) {
          rule.comparison = cmp;
          cond.remove_prefix(op.size());
          found = true;
          break;
        }
      if (!found) bad("needs one of < <= > >= == after 'epoch'");
      if (!parse_epoch(trim(cond), rule.epoch)) bad("needs an epoch (integer >= 0) after the comparison");
    }
    out.rules_.push_back(std::move(rule));
  }
  return out;
}

double SourceWeightRules::weight(std::string_view source, std::int64_t epoch) const {
  double w = 1.0;
  for (const auto& rule : rules_)
    if (rule.applies(source, epoch)) w *= rule.factor;
  return w;
}

std::string SourceWeightRules::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    if (i) out += "; ";
    out += rules_[i].to_string();
  }
  return out;
}

}  // namespace pouch
