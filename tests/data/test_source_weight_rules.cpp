#include <gtest/gtest.h>

#include <string>

#include "data/source_weight_rules.h"
#include "runtime/error.h"

namespace pouch {
namespace {

TEST(SourceWeightRules, EvaluatesTheExample) {
  auto rules = SourceWeightRules::parse("simple*0.8@epoch<10; complex*1.5@epoch>=10", "data.source_weights");
  ASSERT_EQ(rules.rules().size(), 2u);
  EXPECT_EQ(rules.key(), "data.source_weights");
  EXPECT_DOUBLE_EQ(rules.weight("simple", 0), 0.8);
  EXPECT_DOUBLE_EQ(rules.weight("simple", 9), 0.8);
  EXPECT_DOUBLE_EQ(rules.weight("simple", 10), 1.0);
  EXPECT_DOUBLE_EQ(rules.weight("complex", 9), 1.0);
  EXPECT_DOUBLE_EQ(rules.weight("complex", 10), 1.5);
  EXPECT_DOUBLE_EQ(rules.weight("new", 10), 1.0);  // no rule: 1
  EXPECT_EQ(rules.to_string(), "simple*0.8@epoch<10; complex*1.5@epoch>=10");
}

TEST(SourceWeightRules, EveryComparisonAndProducts) {
  auto rules = SourceWeightRules::parse(" a * 2 , a*3 @ epoch == 4;b*5@epoch<=1; b*7@epoch>2;c*0.5;;", "k");
  ASSERT_EQ(rules.rules().size(), 5u);
  EXPECT_DOUBLE_EQ(rules.weight("a", 3), 2.0);
  EXPECT_DOUBLE_EQ(rules.weight("a", 4), 6.0);
  EXPECT_DOUBLE_EQ(rules.weight("a", 5), 2.0);
  EXPECT_DOUBLE_EQ(rules.weight("b", 1), 5.0);
  EXPECT_DOUBLE_EQ(rules.weight("b", 2), 1.0);
  EXPECT_DOUBLE_EQ(rules.weight("b", 3), 7.0);
  EXPECT_DOUBLE_EQ(rules.weight("c", 100), 0.5);
  EXPECT_DOUBLE_EQ(rules.weight("A", 4), 1.0);  // sources match exactly
  auto twice = SourceWeightRules::parse("x*2@epoch>0; x*1e-1", "k");
  EXPECT_DOUBLE_EQ(twice.weight("x", 0), 0.1);
  EXPECT_NEAR(twice.weight("x", 1), 0.2, 1e-15);
  // Canonical form parses back to the same rules.
  auto again = SourceWeightRules::parse(rules.to_string(), "k");
  for (int e = 0; e < 6; ++e)
    for (const char* s : {"a", "b", "c"}) EXPECT_DOUBLE_EQ(again.weight(s, e), rules.weight(s, e)) << s << e;
  EXPECT_TRUE(SourceWeightRules::parse("", "k").empty());
  EXPECT_TRUE(SourceWeightRules().empty());
  EXPECT_DOUBLE_EQ(SourceWeightRules().weight("simple", 3), 1.0);
}

TEST(SourceWeightRules, ErrorsNameKeyRuleAndGrammar) {
  for (const char* bad :
       {"simple0.8", "*2", "simple*0", "simple*-1", "simple*abc", "simple*inf", "simple*2@ep<3", "simple*2@epoch=3",
        "simple*2@epoch<-1", "simple*2@epoch<x", "sim ple*2", "simple*2@epoch", "simple*2@", "ok*1; simple*"}) {
    try {
      SourceWeightRules::parse(bad, "phase.1.source_weights");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("phase.1.source_weights"), std::string::npos) << msg;
      EXPECT_NE(msg.find("SOURCE*FACTOR[@epoch CMP N]"), std::string::npos) << msg;
      EXPECT_NE(msg.find("rule '"), std::string::npos) << msg;
    }
  }
  try {
    SourceWeightRules::parse("simple*2; complex*0@epoch>1", "k");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rule 'complex*0@epoch>1'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pouch
