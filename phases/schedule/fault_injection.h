#pragma once
// Deliberate faults for testing how a job dies, from the environment:
//   POUCH_FAULT=kill:RANK:STEP       rank RANK sends itself SIGKILL when optimizer step STEP starts
//   POUCH_FAULT=sleep:RANK:STEP:SEC  rank RANK sleeps SEC seconds when step STEP starts
//   POUCH_FAULT=throw:RANK:STEP      rank RANK throws a pouch::Error when step STEP starts
//   POUCH_FAULT=signal:RANK:STEP:SIG rank RANK raises signal SIG (e.g. 10 = SIGUSR1) when step STEP starts
// (steps count from 1). The tests of the watchdog and of job teardown use it;
// a normal run never sets it.
#include <cstdint>
#include <optional>
#include <string>

namespace pouch {

struct FaultPlan {
  enum class Kind { Kill, Sleep, Throw, Signal };
  Kind kind = Kind::Kill;
  int rank = 0;
  std::int64_t step = 0;
  double seconds = 0.0;
  int signal = 0;
};

// Parses the POUCH_FAULT syntax above; a malformed value is a pouch::Error.
std::optional<FaultPlan> parse_fault_plan(const std::string& text);
// The plan in POUCH_FAULT, if any.
std::optional<FaultPlan> fault_plan_from_env();
// Carries out `plan` if it targets this rank and step.
void maybe_inject_fault(const std::optional<FaultPlan>& plan, int rank, std::int64_t step);

}  // namespace pouch
