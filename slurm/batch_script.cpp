#include "slurm/batch_script.h"

#include <fmt/format.h>

#include <algorithm>

#include "runtime/error.h"
#include "runtime/stop_request.h"

namespace pouch {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// The option's name: "--time" of "--time=10", "-t" of "-t 10".
std::string option_name(const std::string& option) { return option.substr(0, option.find_first_of("= ")); }

void refuse_newline(const std::string& s, const std::string& what) {
  if (s.find_first_of("\n\r") != std::string::npos)
    fail("{} '{}' holds a line break, which a batch script line cannot carry; remove it", what, s);
}

// An #SBATCH line is split by sbatch itself, not by a shell: it keeps double
// quotes around a value with spaces, and nothing else is special.
std::string sbatch_line(const std::string& option) {
  refuse_newline(option, "sbatch option");
  if (option.find('"') != std::string::npos)
    fail("sbatch option '{}' holds a double quote, which #SBATCH lines cannot carry; pass it to sbatch by hand",
         option);
  const auto split = option.find_first_of("= ");
  if (split == std::string::npos || option.find_first_of(" \t", split + 1) == std::string::npos)
    return "#SBATCH " + option;
  return fmt::format("#SBATCH {}{}\"{}\"", option.substr(0, split), option[split], option.substr(split + 1));
}

}  // namespace

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string batch_script(const BatchScriptOptions& o) {
  if (o.stop_signal != "USR1" && o.stop_signal != "USR2" && o.stop_signal != "TERM")
    fail(
        "--stop-signal={}: pouch train checkpoints and stops on USR1, USR2 or TERM; use one of them (USR2 where "
        "the job's other libraries take USR1)",
        o.stop_signal);
  if (o.stop_lead_s < 0 || o.stop_lead_s > 65535)
    fail(
        "--stop-lead={}: seconds before the time limit, 0..65535 (Slurm's limit); give it time for a step and a "
        "checkpoint",
        o.stop_lead_s);
  if (o.launcher != "srun" && o.launcher != "mpirun")
    fail("--launcher={}: use srun (srun --mpi=pmix) or mpirun", o.launcher);
  if (o.pouch.empty()) fail("--pouch: the path of the pouch executable the job runs is empty; give one");
  refuse_newline(o.pouch, "--pouch");
  refuse_newline(o.log_dir, "--log-dir");
  for (const auto& a : o.train_args) refuse_newline(a, "pouch train argument");
  for (const auto& a : o.train_args)
    if (starts_with(a, "--resume"))
      fail(
          "pouch train argument '{}': the script passes --resume=auto itself (a requeued or chained job "
          "continues from the newest checkpoint); remove it",
          a);
  bool has_output = false;
  for (const auto& s : o.sbatch) {
    const std::string name = option_name(s);
    if (name == "--signal")
      fail("sbatch option '{}': the script sets --signal itself; use --stop-signal and --stop-lead", s);
    if (name == "--requeue" || name == "--no-requeue")
      fail("sbatch option '{}': the script sets it (requeue, or --chain=N for chained jobs); remove it", s);
    if (name == "--open-mode") fail("sbatch option '{}': the script appends (--open-mode=append); remove it", s);
    if (name == "--output" || name == "-o") has_output = true;
  }

  std::string s = "#!/bin/bash\n";
  s += "# Written by `pouch slurm script`: a pouch training run that checkpoints on a\n";
  s += fmt::format("# signal (SIG{} {} s before the time limit; SIGTERM on preemption or at the\n", o.stop_signal,
                   o.stop_lead_s);
  s += o.chain ? "# limit) and is continued by the next job of its chain (--dependency=afterany).\n"
               : "# limit) and requeues itself; every run resumes the newest checkpoint.\n";
  s += fmt::format("#SBATCH --signal=B:{}@{}\n", o.stop_signal, o.stop_lead_s);
  s += o.chain ? "#SBATCH --no-requeue\n" : "#SBATCH --requeue\n";
  s += "#SBATCH --open-mode=append\n";
  if (!has_output) s += sbatch_line(fmt::format("--output={}/%x-%j.out", o.log_dir));
  if (!has_output) s += "\n";
  for (const auto& opt : o.sbatch) s += sbatch_line(opt) + "\n";
  s += "set -u\n";
  s += "pouch=" + shell_quote(o.pouch) + "\n";
  s += "log_dir=" + shell_quote(o.log_dir) + "\n";
  s += "train_args=(";
  for (std::size_t i = 0; i < o.train_args.size(); ++i) {
    if (i > 0) s += ' ';
    s += shell_quote(o.train_args[i]);
  }
  s += ")\n";
  s += R"(mkdir -p "$log_dir"
# An array task is requeued alone: ARRAYJOB_TASK, not the whole array.
job=${SLURM_ARRAY_JOB_ID:+${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID:-}}
job=${job:-$SLURM_JOB_ID}
echo "pouch slurm: job $job on $(hostname), start $((${SLURM_RESTART_COUNT:-0} + 1)), $(date -u '+%F %T') UTC"
)";
  if (o.launcher == "srun") {
    s += R"(# One log per rank (%t: the task id), appended across restarts.
launch=(srun --mpi=pmix --kill-on-bad-exit=1 --open-mode=append --output="$log_dir/%x-%j-rank%t.out")
)";
  } else {
    s += R"(# One log per rank under $log_dir/mpirun-$job/1/rank.N/.
launch=(mpirun --output-filename "$log_dir/mpirun-$job")
)";
  }
  s += fmt::format(R"(# The launcher runs in the background so that the trap runs at once; it
# forwards the signal to every rank.
child=
forward() {{
  echo "pouch slurm: SIG$1 at $(date -u '+%T') UTC: every rank checkpoints at its next step boundary"
  [[ -n $child ]] && kill -s "$1" "$child" 2> /dev/null
}}
trap 'forward {0}' {0}
)",
                   o.stop_signal);
  if (o.stop_signal != "TERM") s += "trap 'forward TERM' TERM\n";
  s += fmt::format(R"("${{launch[@]}}" "$pouch" train "${{train_args[@]}}" --resume=auto &
child=$!
status=0
wait "$child" || status=$?
# wait returns early when a trapped signal arrives: wait again for the exit.
while kill -0 "$child" 2> /dev/null; do
  status=0
  wait "$child" || status=$?
done
echo "pouch slurm: pouch train exited with status $status at $(date -u '+%T') UTC"
)");
  if (!o.chain) {
    s += fmt::format(R"(# {0}: every rank wrote its checkpoint and stopped; run the rest as a new start.
if [[ $status -eq {0} ]]; then
  echo "pouch slurm: requeueing $job"
  scontrol requeue "$job" && exit 0
  echo "pouch slurm: scontrol requeue $job failed: continue with pouch slurm submit (same arguments), or submit with --chain=N"
fi
)",
                     kExitStoppedForResume);
  }
  s += "exit \"$status\"\n";
  return s;
}

}  // namespace pouch
