#pragma once
// Per-source sampling weights that change with the epoch
// (docs/data-format.md "Curriculum sampling"), e.g.
//
//   simple*0.8@epoch<10; complex*1.5@epoch>=10
//
// Grammar (spaces allowed around every token):
//   rules      := [rule] (sep [rule])*        sep := ';' | ','
//   rule       := SOURCE '*' FACTOR [ '@' 'epoch' CMP EPOCH ]
//   CMP        := '<' | '<=' | '>' | '>=' | '=='
// SOURCE is a sample source tag (no space, '*', '@', ';' or ','), FACTOR a
// finite number > 0, EPOCH an integer >= 0.
//
//   weight(source, e) = product of FACTOR over the rules whose SOURCE is
//                       `source` and whose condition holds at epoch e
//                       (1 when none do)
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pouch {

enum class EpochComparison { Always, Less, LessEqual, Greater, GreaterEqual, Equal };

struct SourceWeightRule {
  std::string source;
  double factor = 1.0;
  EpochComparison comparison = EpochComparison::Always;
  std::int64_t epoch = 0;

  bool applies(std::string_view source_tag, std::int64_t e) const;
  std::string to_string() const;  // "simple*0.8@epoch<10"
};

class SourceWeightRules {
 public:
  SourceWeightRules() = default;  // no rules: every weight is 1
  // Throws pouch::Error naming `key`, the bad rule and the grammar.
  static SourceWeightRules parse(std::string_view text, std::string_view key);

  double weight(std::string_view source, std::int64_t epoch) const;
  const std::vector<SourceWeightRule>& rules() const { return rules_; }
  const std::string& key() const { return key_; }  // the config key they came from, for later errors
  bool empty() const { return rules_.empty(); }
  std::string to_string() const;  // the rules, canonical form, "; "-separated

 private:
  std::vector<SourceWeightRule> rules_;
  std::string key_;
};

}  // namespace pouch
