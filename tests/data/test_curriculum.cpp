#include <gtest/gtest.h>

#include <string>

#include "data/curriculum.h"
#include "runtime/error.h"
#include "tests/support/error_of.h"

namespace pouch {
namespace {

const CurriculumKeys kKeys = CurriculumKeys::under("phase.1.");

CurriculumConfig config(PacingKind kind, double min_level, double max_level, std::int64_t total_steps,
                        double degree = 2.0, std::vector<std::int64_t> boundaries = {}) {
  CurriculumConfig c;
  c.kind = kind;
  c.min_level = min_level;
  c.max_level = max_level;
  c.total_steps = total_steps;
  c.degree = degree;
  c.boundaries = std::move(boundaries);
  validate_curriculum(c, kKeys);
  return c;
}

TEST(Curriculum, ParsesPacingNames) {
  EXPECT_EQ(parse_pacing_kind("none", "k"), PacingKind::None);
  EXPECT_EQ(parse_pacing_kind("fixed_discrete", "k"), PacingKind::FixedDiscrete);
  EXPECT_EQ(parse_pacing_kind(" linear ", "k"), PacingKind::Linear);
  EXPECT_EQ(parse_pacing_kind("root", "k"), PacingKind::Root);
  for (PacingKind kind : {PacingKind::None, PacingKind::FixedDiscrete, PacingKind::Linear, PacingKind::Root})
    EXPECT_EQ(parse_pacing_kind(pacing_kind_name(kind), "k"), kind);
  const std::string msg = error_of([] { parse_pacing_kind("sqrt", "phase.1.curriculum"); });
  EXPECT_NE(msg.find("phase.1.curriculum"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'sqrt'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("none, fixed_discrete, linear, root"), std::string::npos) << msg;
}

TEST(Curriculum, LinearPacing) {
  // 1 + 4 * step / 1000.
  const auto c = config(PacingKind::Linear, 1, 5, 1000);
  EXPECT_DOUBLE_EQ(curriculum_difficulty(c, 0), 1.0);
  EXPECT_DOUBLE_EQ(curriculum_difficulty(c, 250), 2.0);
  EXPECT_DOUBLE_EQ(curriculum_difficulty(c, 500), 3.0);
  EXPECT_DOUBLE_EQ(curriculum_difficulty(c, 1000), 5.0);
  EXPECT_DOUBLE_EQ(curriculum_difficulty(c, 5000), 5.0);
  EXPECT_DOUBLE_EQ(curriculum_difficulty(c, -3), 1.0);
  EXPECT_EQ(curriculum_max_level(c, 249), 1);  // 1.996
  EXPECT_EQ(curriculum_max_level(c, 250), 2);
  EXPECT_EQ(curriculum_max_level(c, 999), 4);  // 4.996
  EXPECT_EQ(curriculum_max_level(c, 1000), 5);
  // The degree is ignored by linear pacing.
  EXPECT_DOUBLE_EQ(curriculum_difficulty(config(PacingKind::Linear, 1, 5, 1000, 7.0), 500), 3.0);
}

TEST(Curriculum, RootPacing) {
  // Degree 2: 1 + 4 * sqrt(step / 1000); level 2 at step 62.5, level 4 at 562.5.
  const auto c = config(PacingKind::Root, 1, 5, 1000, 2.0);
  EXPECT_DOUBLE_EQ(curriculum_difficulty(c, 0), 1.0);
  EXPECT_DOUBLE_EQ(curriculum_difficulty(c, 250), 3.0);
  EXPECT_DOUBLE_EQ(curriculum_difficulty(c, 1000), 5.0);
  EXPECT_EQ(curriculum_max_level(c, 62), 1);
  EXPECT_EQ(curriculum_max_level(c, 63), 2);
  EXPECT_EQ(curriculum_max_level(c, 562), 3);
  EXPECT_EQ(curriculum_max_level(c, 563), 4);
  // Degree 3: 0.125^(1/3) = 0.5 in exact arithmetic but 0.49999999999999994 in
  // doubles; the 1e-9 in floor(difficulty + 1e-9) keeps it at level 3.
  const auto cube = config(PacingKind::Root, 1, 5, 1000, 3.0);
  EXPECT_NEAR(curriculum_difficulty(cube, 125), 3.0, 1e-12);
  EXPECT_EQ(curriculum_max_level(cube, 125), 3);
  EXPECT_EQ(curriculum_max_level(cube, 124), 2);
  // Root grows faster than linear early on.
  EXPECT_GT(curriculum_difficulty(c, 100), curriculum_difficulty(config(PacingKind::Linear, 1, 5, 1000), 100));
}

TEST(Curriculum, FixedDiscreteAndNonePacing) {
  const auto c = config(PacingKind::FixedDiscrete, 1, 4, 0, 2.0, {300, 600, 900});
  EXPECT_EQ(curriculum_max_level(c, 0), 1);
  EXPECT_EQ(curriculum_max_level(c, 299), 1);
  EXPECT_EQ(curriculum_max_level(c, 300), 2);
  EXPECT_EQ(curriculum_max_level(c, 600), 3);
  EXPECT_EQ(curriculum_max_level(c, 899), 3);
  EXPECT_EQ(curriculum_max_level(c, 900), 4);
  EXPECT_EQ(curriculum_max_level(c, 1000000), 4);
  // Two levels may unlock at once.
  const auto twice = config(PacingKind::FixedDiscrete, 2, 4, 0, 2.0, {50, 50});
  EXPECT_EQ(curriculum_max_level(twice, 49), 2);
  EXPECT_EQ(curriculum_max_level(twice, 50), 4);
  const auto none = config(PacingKind::None, 1, 5, 0);
  EXPECT_EQ(curriculum_max_level(none, 0), 5);
  EXPECT_EQ(curriculum_max_level(none, 123456), 5);
  EXPECT_EQ(describe_curriculum(c), "fixed_discrete 1->4 at steps 300,600,900");
  EXPECT_EQ(describe_curriculum(config(PacingKind::Root, 1, 5, 1000)), "root (degree 2) 1->5 over 1000 steps");
}

TEST(Curriculum, ValidationNamesTheKey) {
  struct Case {
    CurriculumConfig c;
    std::string key;
    std::string says;
  };
  auto make = [](PacingKind kind, double lo, double hi, std::int64_t total, double degree,
                 std::vector<std::int64_t> b) {
    CurriculumConfig c;
    c.kind = kind;
    c.min_level = lo;
    c.max_level = hi;
    c.total_steps = total;
    c.degree = degree;
    c.boundaries = std::move(b);
    return c;
  };
  const std::vector<Case> cases = {
      {make(PacingKind::FixedDiscrete, 1, 5, 0, 2, {300, 600, 900}), "phase.1.curriculum_boundaries", "need 4"},
      {make(PacingKind::FixedDiscrete, 1, 4, 0, 2, {300, 900, 600}), "phase.1.curriculum_boundaries", "ascending"},
      {make(PacingKind::FixedDiscrete, 1, 2, 0, 2, {-1}), "phase.1.curriculum_boundaries", "negative"},
      {make(PacingKind::FixedDiscrete, 1, 2.5, 0, 2, {1}), "phase.1.curriculum_max_level", "whole levels"},
      {make(PacingKind::Linear, 1, 5, 1000, 2, {300}), "phase.1.curriculum_boundaries", "fixed_discrete"},
      {make(PacingKind::Linear, 1, 5, 0, 2, {}), "phase.1.curriculum_total_steps", "> 0"},
      {make(PacingKind::Root, 1, 5, 100, 0, {}), "phase.1.curriculum_degree", "> 0"},
      {make(PacingKind::Linear, 4, 2, 100, 2, {}), "phase.1.curriculum_max_level", "at least"},
      {make(PacingKind::None, -1, 2, 0, 2, {}), "phase.1.curriculum_min_level", ">= 0"},
  };
  for (const auto& tc : cases) {
    const std::string msg = error_of([&] { validate_curriculum(tc.c, kKeys); });
    EXPECT_NE(msg.find(tc.key), std::string::npos) << msg;
    EXPECT_NE(msg.find(tc.says), std::string::npos) << msg;
  }
  EXPECT_NO_THROW(validate_curriculum(make(PacingKind::FixedDiscrete, 1, 1, 0, 2, {}), kKeys));
}

TEST(Curriculum, ParsesStepLists) {
  EXPECT_EQ(parse_step_list("300, 600,900", "k"), (std::vector<std::int64_t>{300, 600, 900}));
  EXPECT_EQ(parse_step_list("  ", "k"), (std::vector<std::int64_t>{}));
  EXPECT_EQ(parse_step_list("0", "k"), (std::vector<std::int64_t>{0}));
  for (const char* bad : {"300,,600", "3.5", "abc", "-5", "300,", "1 2"}) {
    const std::string msg = error_of([&] { parse_step_list(bad, "phase.1.curriculum_boundaries"); });
    EXPECT_NE(msg.find("phase.1.curriculum_boundaries"), std::string::npos) << bad << ": " << msg;
  }
}

}  // namespace
}  // namespace pouch
