#include "parallel/launcher_env.h"

#include <fmt/format.h>

#include <charconv>

#include "runtime/error.h"

extern char** environ;

namespace pouch {

namespace {

const std::string* find(const EnvMap& env, const char* key) {
  auto it = env.find(key);
  return it == env.end() ? nullptr : &it->second;
}

// The integer value of env[key], or `fallback` when it is absent.
int int_var(const EnvMap& env, const char* key, int fallback) {
  const std::string* v = find(env, key);
  if (!v) return fallback;
  int value = 0;
  const char* end = v->data() + v->size();
  auto [ptr, ec] = std::from_chars(v->data(), end, value);
  if (ec != std::errc() || ptr != end || v->empty())
    fail(
        "environment variable {}='{}' is not an integer; the launcher that started pouch set it, or it was set by "
        "hand: unset it",
        key, *v);
  return value;
}

// The step id of an sbatch script itself (SLURM_BATCH_SCRIPT in slurm.h);
// only srun-started tasks are ranks.
constexpr const char* kSlurmBatchStep = "4294967294";

}  // namespace

const char* launcher_name(Launcher launcher) {
  switch (launcher) {
    case Launcher::None:
      return "none";
    case Launcher::OpenMpi:
      return "Open MPI (mpirun)";
    case Launcher::Slurm:
      return "Slurm (srun)";
    case Launcher::Pmix:
      return "PMIx";
  }
  return "?";
}

bool LaunchEnv::wants_mpi() const {
  switch (launcher) {
    case Launcher::None:
      return false;
    case Launcher::OpenMpi:
    case Launcher::Pmix:
      return true;
    case Launcher::Slurm:
      return has_pmix;
  }
  return false;
}

std::string LaunchEnv::describe() const {
  if (launcher == Launcher::None) return "none: a world of one";
  return fmt::format("{}: rank {} of {}, local rank {}{}", launcher_name(launcher), rank,
                     size > 0 ? std::to_string(size) : std::string("?"), local_rank,
                     wants_mpi() ? "" : " (no PMIx: running as a world of one without MPI)");
}

LaunchEnv detect_launch_env(const EnvMap& env) {
  LaunchEnv out;
  out.has_pmix = find(env, "PMIX_RANK") != nullptr;
  if (find(env, "OMPI_COMM_WORLD_RANK")) {
    out.launcher = Launcher::OpenMpi;
    out.rank = int_var(env, "OMPI_COMM_WORLD_RANK", 0);
    out.size = int_var(env, "OMPI_COMM_WORLD_SIZE", 0);
    out.local_rank = int_var(env, "OMPI_COMM_WORLD_LOCAL_RANK", -1);
    return out;
  }
  const std::string* step = find(env, "SLURM_STEP_ID");
  // After MPI_Init Open MPI adds OMPI_MCA_* variables of its own to a srun
  // task's environment, so only OMPI_COMM_WORLD_* (above) means mpirun.
  if (find(env, "SLURM_PROCID") && step && *step != kSlurmBatchStep) {
    out.launcher = Launcher::Slurm;
    out.rank = int_var(env, "SLURM_PROCID", 0);
    out.size = int_var(env, "SLURM_STEP_NUM_TASKS", int_var(env, "SLURM_NTASKS", 1));
    out.local_rank = int_var(env, "SLURM_LOCALID", -1);
    if (!out.has_pmix && out.size > 1)
      fail(
          "srun started {} tasks without PMIx (rank {} sees no PMIX_RANK): Debian's Open MPI joins a Slurm step "
          "only through PMIx. Launch with `srun --mpi=pmix ...` (or set MpiDefault=pmix in slurm.conf)",
          out.size, out.rank);
    return out;
  }
  if (out.has_pmix) {
    out.launcher = Launcher::Pmix;
    out.rank = int_var(env, "PMIX_RANK", 0);
    out.size = int_var(env, "PMIX_SIZE", 0);
    out.local_rank = int_var(env, "PMIX_LOCAL_RANK", -1);
    return out;
  }
  return out;
}

EnvMap process_environment() {
  EnvMap env;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

}  // namespace pouch
