// The op harness: every case of the table (op_case.h) on every backend this
// build can make. The CPU backend is held to the double reference; any other
// backend (sim, CUDA: every Device that make_backend makes) to the CPU
// backend, on the same inputs, and so is the profiling decorator over the CPU
// backend, which keeps that second path running before any device exists.
// One test per (backend, op); each prints one summary line. POUCH_OP_SEED
// changes the base seed (default 1); a failure prints the seed that reproduces it.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/backend.h"
#include "runtime/error.h"
#include "runtime/profiling_backend.h"
#include "tests/runtime/op_harness/compare.h"
#include "tests/runtime/op_harness/op_case.h"

namespace pouch::op_harness {
namespace {

// A backend under test: a device of the registry or a decorator over one.
struct Subject {
  std::string label;
  std::optional<Device> device;  // made by make_backend; else the profiling decorator over the CPU backend
};

const std::vector<Subject>& subjects() {
  static const std::vector<Subject> all = {
      {"cpu", Device::CPU}, {"sim", Device::Sim}, {"cuda", Device::CUDA}, {"cpu_profiled", std::nullopt}};
  return all;
}

void PrintTo(const Subject& s, std::ostream* os) { *os << s.label; }

// What a Subject makes: the backend, and the one it decorates when it is a decorator.
struct Made {
  std::unique_ptr<Backend> inner, backend;
};

Made make(const Subject& s) {
  Made m;
  if (s.device) {
    m.backend = make_backend(*s.device);
  } else {
    m.inner = make_backend(Device::CPU);
    m.backend = std::make_unique<ProfilingBackend>(*m.inner);
  }
  return m;
}

std::uint32_t base_seed() {
  const char* env = std::getenv("POUCH_OP_SEED");
  return env != nullptr ? static_cast<std::uint32_t>(std::strtoul(env, nullptr, 10)) : 1u;
}

// FNV-1a of the case's name mixed with the base seed: every case draws its
// own inputs, and adding a case does not change the others'.
std::uint32_t case_seed(std::uint32_t base, const OpCase& c) {
  std::uint32_t h = 2166136261u ^ (base * 0x9E3779B1u);
  for (char ch : c.op + "|" + c.variant) h = (h ^ static_cast<unsigned char>(ch)) * 16777619u;
  return h;
}

class OpHarness : public ::testing::TestWithParam<std::tuple<Subject, std::string>> {};

TEST_P(OpHarness, MatchesOracle) {
  const auto& [subject, op] = GetParam();
  Made made;
  try {
    made = make(subject);
  } catch (const Error& e) {
    GTEST_SKIP() << "make_backend(" << subject.label << ") made no backend in this build: " << e.what();
  }
  Backend* be = made.backend.get();
  // The oracle: the double reference for the CPU backend, the CPU backend for any other.
  const bool vs_reference = subject.device == Device::CPU;
  const std::unique_ptr<Backend> cpu = vs_reference ? nullptr : make_backend(Device::CPU);
  const std::string oracle = cpu ? "cpu" : "reference";
  const std::uint32_t base = base_seed();

  int cases = 0;
  double worst = 0.0;
  std::string worst_at = "-";
  for (const OpCase& c : all_cases()) {
    if (c.op != op) continue;
    ++cases;
    const std::uint32_t seed = case_seed(base, c);
    const std::string where = "[" + c.variant + "] on " + be->name() + " vs " + oracle + ", seed " +
                              std::to_string(seed) + " (POUCH_OP_SEED=" + std::to_string(base) + ")";
    try {
      const Problem p = c.build(seed);
      const Outputs got = p.run(*be);
      const Outputs want = cpu ? p.run(*cpu) : p.reference();
      ASSERT_EQ(got.size(), want.size()) << op << " " << where;
      for (std::size_t i = 0; i < got.size(); ++i) {
        const Comparison r = compare(got[i].values, want[i].values, error_bound(c.precision));
        if (r.error > worst || !r.ok) {
          worst = r.error;
          worst_at = c.variant + " " + got[i].name;
        }
        EXPECT_TRUE(r.ok) << op << " output " << got[i].name << " " << where << ": relative L2 error " << r.error
                          << " > " << precision_name(c.precision) << " bound " << error_bound(c.precision) << "; "
                          << r.detail;
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << op << " " << where << " threw: " << e.what();
    }
  }
  ASSERT_GT(cases, 0) << "no case for " << op;
  std::printf("[ops] %-12s vs %-9s %-31s %3d cases, worst rel L2 %.2e (%s)\n", be->name().c_str(), oracle.c_str(),
              op.c_str(), cases, worst, worst_at.c_str());
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpHarness,
                         ::testing::Combine(::testing::ValuesIn(subjects()), ::testing::ValuesIn(op_names())),
                         [](const ::testing::TestParamInfo<OpHarness::ParamType>& info) {
                           return std::get<0>(info.param).label + "_" + std::get<1>(info.param);
                         });

}  // namespace
}  // namespace pouch::op_harness
