// pouch slurm: the sbatch script of a pouch training run that survives time
// limits and preemption (slurm/batch_script.h), printed or submitted.
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "launcher/commands.h"
#include "runtime/error.h"
#include "slurm/batch_script.h"

namespace pouch {

namespace {

namespace fs = std::filesystem;

constexpr const char* kSlurmUsage = R"(usage: pouch slurm script [options] [sbatch options] -- <pouch train arguments>
       pouch slurm submit [options] [--chain=N] [sbatch options] -- <pouch train arguments>

`script` prints an sbatch script that runs `pouch train <arguments>
--resume=auto` under `srun --mpi=pmix` (or mpirun); `submit` writes it to
<log-dir>/ and submits it with sbatch, printing the job id (one per line with
--chain). Slurm signals the batch shell --stop-lead seconds before the time
limit; the script forwards that signal (and SIGTERM: preemption, scancel, the
time limit itself) to every rank, each checkpoints at its next step boundary
and exits with status 75, and the batch shell requeues the job (scontrol
requeue; an array task alone), which resumes from that checkpoint, bit for
bit. Clusters without requeue, or containers without scontrol: --chain=N.

Options (written --name=value):
  --stop-signal=SIG    USR1 (default), USR2 or TERM: the signal Slurm sends
                       before the time limit (#SBATCH --signal=B:SIG@LEAD);
                       USR2 where other libraries in the job take USR1
  --stop-lead=SECONDS  how long before the time limit (default 120); Slurm may
                       send it up to 60 s early; leave time for one step and a
                       checkpoint
  --launcher=NAME      srun (default: srun --mpi=pmix, one task per rank) or
                       mpirun (Open MPI inside the allocation)
  --pouch=PATH         the pouch executable the job runs (default: this one)
  --log-dir=DIR        the batch log (%x-%j.out) and one log per rank
                       (%x-%j-rank%t.out), appended across restarts
                       (default slurm-logs, relative to the submit directory)
  --chain=N            N jobs, each --dependency=afterany on the one before,
                       no requeue: each resumes the newest checkpoint; a job
                       that finds the run finished exits 0 (submit only)
  -h, --help           this text

Every other option before `--` is an sbatch option and becomes an #SBATCH
line (--ntasks=2, --time=4:00:00, -N 1, --job-name=run1, --array=0-3, ...);
the script sets --signal, --requeue and --open-mode itself.

Example:
  pouch slurm submit --ntasks=2 --time=60 --stop-lead=180 -- \
      --config my.ini --parallel.tp=2 --train.run_dir=runs/my
)";

struct SlurmArgs {
  std::string action;
  BatchScriptOptions script;
  int chain = 0;
};

int parse_count(const std::string& name, const std::string& value) {
  try {
    std::size_t used = 0;
    const int n = std::stoi(value, &used);
    if (used == value.size()) return n;
  } catch (const std::exception&) {
  }
  fail("{}={}: not a whole number; write {}=N", name, value, name);
}

SlurmArgs parse_slurm_args(const std::vector<std::string>& args) {
  SlurmArgs a;
  a.action = args.front();
  std::error_code ec;
  a.script.pouch = fs::read_symlink("/proc/self/exe", ec).string();
  std::size_t i = 1;
  bool separator = false;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      separator = true;
      ++i;
      break;
    }
    const auto eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    const bool own = name == "--stop-signal" || name == "--stop-lead" || name == "--launcher" || name == "--pouch" ||
                     name == "--log-dir" || name == "--chain";
    if (own && eq == std::string::npos) fail("{} needs a value: write {}=VALUE (see pouch slurm --help)", arg, arg);
    if (name == "--stop-signal") {
      a.script.stop_signal = value.rfind("SIG", 0) == 0 ? value.substr(3) : value;
    } else if (name == "--stop-lead") {
      a.script.stop_lead_s = parse_count(name, value);
    } else if (name == "--launcher") {
      a.script.launcher = value;
    } else if (name == "--pouch") {
      a.script.pouch = value;
    } else if (name == "--log-dir") {
      a.script.log_dir = value;
    } else if (name == "--chain") {
      a.chain = parse_count(name, value);
      if (a.chain < 1) fail("--chain={}: the number of chained jobs, at least 1", value);
      a.script.chain = true;
    } else if (!arg.empty() && arg[0] == '-') {
      // "-n 2": a short option and its value in the next word.
      if (arg.size() == 2 && i + 1 < args.size() && args[i + 1] != "--" && !args[i + 1].empty() &&
          args[i + 1][0] != '-') {
        a.script.sbatch.push_back(arg + " " + args[i + 1]);
        ++i;
      } else {
        a.script.sbatch.push_back(arg);
      }
    } else {
      fail(
          "'{}' is neither an option nor after `--`: pouch train's arguments go after `--` (pouch slurm {} "
          "[options] -- <pouch train arguments>)",
          arg, a.action);
    }
  }
  if (!separator)
    fail(
        "no `--`: write pouch slurm {} [options] -- <pouch train arguments> (an empty list after -- trains the "
        "built-in r1-tiny)",
        a.action);
  a.script.train_args.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  if (a.chain > 0 && a.action != "submit")
    fail("--chain={} submits several jobs: use it with pouch slurm submit (a script alone cannot chain)", a.chain);
  return a;
}

// sbatch --parsable's answer: "JOBID" or "JOBID;CLUSTER".
std::string run_sbatch(const std::string& script_path, const std::string& dependency) {
  std::string cmd = "sbatch --parsable";
  if (!dependency.empty()) cmd += " " + shell_quote("--dependency=afterany:" + dependency);
  cmd += " " + shell_quote(script_path) + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) fail("cannot run sbatch: {}; is Slurm installed (sbatch on PATH)?", std::strerror(errno));
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
  const int status = pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (status != 0 || out.empty() ||
      out.find_first_not_of("0123456789;_abcdefghijklmnopqrstuvwxyz-") != std::string::npos)
    fail("sbatch {} failed (status {}): {}; check the sbatch options, and that Slurm answers (sinfo)", script_path,
         status, out);
  return out.substr(0, out.find(';'));
}

}  // namespace

int run_slurm_command(const std::vector<std::string>& args) {
  if (args.empty() || args.front() == "-h" || args.front() == "--help") {
    std::cout << kSlurmUsage;
    return args.empty() ? 2 : 0;
  }
  if (args.front() != "script" && args.front() != "submit")
    fail("pouch slurm {}: unknown action; use pouch slurm script ... or pouch slurm submit ... (--help)", args.front());
  for (const auto& a : args) {
    if (a == "--") break;
    if (a == "-h" || a == "--help") {
      std::cout << kSlurmUsage;
      return 0;
    }
  }
  const SlurmArgs a = parse_slurm_args(args);
  const std::string script = batch_script(a.script);
  if (a.action == "script") {
    std::cout << script;
    return 0;
  }
  std::error_code ec;
  fs::create_directories(a.script.log_dir, ec);
  if (ec) fail("--log-dir={}: cannot create it: {}; give a writable directory", a.script.log_dir, ec.message());
  const std::string path = (fs::path(a.script.log_dir) / fmt::format("pouch-{}.sbatch", getpid())).string();
  {
    std::ofstream f(path);
    f << script;
    if (!f) fail("cannot write {}; give a writable --log-dir", path);
  }
  std::string previous;
  for (int k = 0; k < std::max(1, a.chain); ++k) {
    previous = run_sbatch(path, previous);
    std::cout << previous << "\n";
  }
  return 0;
}

}  // namespace pouch
