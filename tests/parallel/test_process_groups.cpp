// parallel/process_groups.h: the (tp, dp) layout and the refusal of layouts
// that cannot work.
#include <gtest/gtest.h>

#include <set>

#include "parallel/process_groups.h"
#include "parallel/uniform_error.h"

namespace pouch {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ProcessGroups, TpGroupsAreConsecutiveDpGroupsStride) {
  const GroupLayout g = compute_layout(8, 2, 4, 5);
  EXPECT_EQ(g.tp_rank, 1);
  EXPECT_EQ(g.dp_rank, 2);
  EXPECT_EQ(g.tp_members, (std::vector<int>{4, 5}));
  EXPECT_EQ(g.dp_members, (std::vector<int>{1, 3, 5, 7}));

  const GroupLayout h = compute_layout(4, 4, 1, 2);
  EXPECT_EQ(h.tp_members, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(h.dp_members, (std::vector<int>{2}));
  const GroupLayout d = compute_layout(4, 1, 4, 2);
  EXPECT_EQ(d.tp_members, (std::vector<int>{2}));
  EXPECT_EQ(d.dp_members, (std::vector<int>{0, 1, 2, 3}));
}

TEST(ProcessGroups, EveryRankIsInExactlyOneGroupOfEachKind) {
  for (auto [world, tp] : {std::pair{12, 3}, std::pair{8, 4}, std::pair{6, 1}, std::pair{6, 6}}) {
    std::set<std::vector<int>> tp_groups, dp_groups;
    for (int r = 0; r < world; ++r) {
      const GroupLayout g = compute_layout(world, tp, 0, r);
      EXPECT_EQ(g.dp, world / tp);
      EXPECT_EQ(g.tp_members[static_cast<std::size_t>(g.tp_rank)], r);
      EXPECT_EQ(g.dp_members[static_cast<std::size_t>(g.dp_rank)], r);
      tp_groups.insert(g.tp_members);
      dp_groups.insert(g.dp_members);
    }
    EXPECT_EQ(tp_groups.size(), static_cast<std::size_t>(world / tp));
    EXPECT_EQ(dp_groups.size(), static_cast<std::size_t>(tp));
  }
}

TEST(ProcessGroups, DpZeroIsDerived) {
  EXPECT_EQ(resolve_dp(8, 2, 0), 4);
  EXPECT_EQ(resolve_dp(8, 2, 4), 4);
  EXPECT_EQ(resolve_dp(1, 1, 0), 1);
}

TEST(ProcessGroups, BadLayoutsAreRefusedWithTheKeyAndTheFix) {
  std::string e = error_of([] { validate_layout(4, 3, 1, 12, 64); });
  EXPECT_NE(e.find("parallel.tp = 3 x parallel.dp = 1 = 3 ranks, but the world size is 4"), std::string::npos) << e;
  e = error_of([] { validate_layout(4, 3, 0, 12, 64); });
  EXPECT_NE(e.find("parallel.tp = 3 does not divide the world size 4"), std::string::npos) << e;
  e = error_of([] { validate_layout(1, 2, 0, 4, 64); });
  EXPECT_NE(e.find("mpirun"), std::string::npos) << e;
  e = error_of([] { validate_layout(4, 2, 1, 4, 64); });
  EXPECT_NE(e.find("tp x dp equal the number of ranks"), std::string::npos) << e;
  e = error_of([] { validate_layout(4, 4, 1, 6, 64); });
  EXPECT_NE(e.find("model.heads = 6 is not divisible by parallel.tp = 4"), std::string::npos) << e;
  EXPECT_NE(e.find("1, 2, 3, 6"), std::string::npos) << e;
  e = error_of([] { validate_layout(3, 3, 1, 3, 2); });
  EXPECT_NE(e.find("4 x model.d_model = 8 (the MLP width) is not divisible by parallel.tp = 3"), std::string::npos)
      << e;
  EXPECT_NE(error_of([] { validate_layout(2, 0, 0, 4, 64); }).find("parallel.tp = 0"), std::string::npos);
  EXPECT_NE(error_of([] { validate_layout(2, 1, -1, 4, 64); }).find("parallel.dp = -1"), std::string::npos);
  EXPECT_EQ(error_of([] { validate_layout(4, 2, 0, 6, 30); }), "");
}

TEST(ProcessGroups, RefusalsAreUniformErrors) {
  EXPECT_THROW(validate_layout(4, 3, 1, 12, 64), UniformError);
  EXPECT_THROW(validate_layout(4, 4, 1, 6, 64), UniformError);
  EXPECT_THROW(compute_layout(4, 3, 0, 1), UniformError);
}

TEST(ProcessGroups, TheMessageIsTheSameOnEveryRank) {
  // validate_layout takes no rank; compute_layout's refusal names none either.
  std::set<std::string> messages;
  for (int r = 0; r < 4; ++r) messages.insert(error_of([r] { compute_layout(4, 3, 1, r); }));
  EXPECT_EQ(messages.size(), 1u);
}

}  // namespace
}  // namespace pouch
