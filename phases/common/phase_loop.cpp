#include "phases/common/phase_loop.h"

#include "phases/schedule/fault_injection.h"
#include "runtime/optim_config.h"
#include "runtime/stopwatch.h"

namespace pouch {

PhaseOutcome run_phase_steps(const PhaseContext& ctx, std::int64_t first_step, const PhaseLoopHooks& hooks) {
  RunServices& services = ctx.services;
  const std::int64_t steps = ctx.phase.steps, eval_every = ctx.eval_every();
  const OptimConfig optim = ctx.optim();
  const auto fault = fault_plan_from_env();
  PhaseOutcome out;
  out.steps_done = first_step;
  double avg_step = 0.0;
  for (std::int64_t step = first_step; step < steps; ++step) {
    StepInput in;
    in.step = step;
    in.global = ctx.step_offset + step;
    in.last = step + 1 == steps;
    maybe_inject_fault(fault, ctx.ranks.world_rank, in.global + 1);
    const auto t0 = Clock::now();
    in.lr = lr_at(optim, step, steps);
    const std::int64_t syncs_before = ctx.be.host_syncs(), blocks_before = ctx.ranks.comm_host_blocks();
    const StepResult r = hooks.step(in);
    // Times the step blocked the host on the device (the sync budget).
    const std::int64_t step_syncs = ctx.be.host_syncs() - syncs_before;
    // Times a wait on a device collective blocked the host (the staged path).
    const std::int64_t step_blocks = ctx.ranks.comm_host_blocks() - blocks_before;

    StepTiming t;
    t.seconds = seconds_since(t0);
    avg_step = step == first_step ? t.seconds : 0.9 * avg_step + 0.1 * t.seconds;
    t.tokens_per_s = r.tokens / t.seconds;
    t.mfu = ctx.peak ? ctx.peak->utilisation(r.flops_per_token * r.tokens, t.seconds) : 0.0;
    t.eta_s = avg_step * static_cast<double>(steps - step - 1);
    out.train_seconds += t.seconds;
    out.tokens += r.tokens;
    out.flops += r.flops_per_token * r.tokens;

    const bool last = in.last || r.ends_phase;
    const bool cadence = eval_every > 0 && (step + 1) % eval_every == 0;
    const bool eval_now = cadence || (last && (hooks.evaluate_last_step || eval_every > 0));
    const EvalResult* eval = eval_now ? &hooks.evaluate(in.global + 1) : nullptr;
    StepReport report = hooks.report(in, r, t, eval, last);
    nlohmann::json& line = report.line;
    line["step"] = in.global + 1;
    line["phase"] = ctx.phase.index;
    line["phase_kind"] = std::string(phase_kind_name(ctx.phase.kind));
    line["loss"] = r.loss;
    line["lr"] = in.lr;
    line["host_syncs"] = step_syncs;
    if (ctx.be.device() != Device::CPU) line["comm_host_blocks"] = step_blocks;
    if (eval) add_eval_fields(line, *eval);

    const std::int64_t done = r.ends_phase ? steps : step + 1;
    out.steps_done = done;
    out.final_loss = r.loss;
    if (last) out.summary = report.summary;
    const int stop = services.end_step(ctx.step_offset + done, last, line, [&] { return hooks.capture(done); });
    if ((step + 1) % ctx.cfg.log.every == 0 || last || step == first_step) services.print(report.progress);
    if (eval) services.print(format_eval(*eval));
    for (const auto& text : report.after) services.print(text);
    if (last) break;
    if (stop != 0) {
      out.stopped_by_signal = stop;
      break;
    }
  }
  return out;
}

}  // namespace pouch
