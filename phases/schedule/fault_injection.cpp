#include "phases/schedule/fault_injection.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>
#include <vector>

#include "runtime/error.h"
#include "runtime/log.h"

namespace pouch {

std::optional<FaultPlan> parse_fault_plan(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string p; std::getline(in, p, ':');) parts.push_back(p);
  auto bad = [&]() -> std::optional<FaultPlan> {
    fail(
        "POUCH_FAULT='{}' is not kill:RANK:STEP, sleep:RANK:STEP:SECONDS, throw:RANK:STEP or "
        "signal:RANK:STEP:SIGNAL",
        text);
  };
  FaultPlan plan;
  if (parts[0] == "kill" && parts.size() == 3) {
    plan.kind = FaultPlan::Kind::Kill;
  } else if (parts[0] == "throw" && parts.size() == 3) {
    plan.kind = FaultPlan::Kind::Throw;
  } else if (parts[0] == "sleep" && parts.size() == 4) {
    plan.kind = FaultPlan::Kind::Sleep;
  } else if (parts[0] == "signal" && parts.size() == 4) {
    plan.kind = FaultPlan::Kind::Signal;
  } else {
    return bad();
  }
  try {
    plan.rank = std::stoi(parts[1]);
    plan.step = std::stoll(parts[2]);
    if (plan.kind == FaultPlan::Kind::Sleep) plan.seconds = std::stod(parts[3]);
    if (plan.kind == FaultPlan::Kind::Signal) plan.signal = std::stoi(parts[3]);
  } catch (const std::exception&) {
    return bad();
  }
  return plan;
}

std::optional<FaultPlan> fault_plan_from_env() {
  const char* v = std::getenv("POUCH_FAULT");
  return v ? parse_fault_plan(v) : std::nullopt;
}

void maybe_inject_fault(const std::optional<FaultPlan>& plan, int rank, std::int64_t step) {
  if (!plan || plan->rank != rank || plan->step != step) return;
  switch (plan->kind) {
    case FaultPlan::Kind::Kill:
      log_warn("POUCH_FAULT: rank {} kills itself (SIGKILL) at step {}", rank, step);
      ::kill(::getpid(), SIGKILL);
      break;
    case FaultPlan::Kind::Sleep:
      log_warn("POUCH_FAULT: rank {} sleeps {} s at step {}", rank, plan->seconds, step);
      std::this_thread::sleep_for(std::chrono::duration<double>(plan->seconds));
      break;
    case FaultPlan::Kind::Throw:
      fail("POUCH_FAULT: rank {} fails at step {} (injected)", rank, step);
    case FaultPlan::Kind::Signal:
      log_warn("POUCH_FAULT: rank {} raises signal {} at step {}", rank, plan->signal, step);
      ::raise(plan->signal);
      break;
  }
}

}  // namespace pouch
