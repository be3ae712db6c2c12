#pragma once
// Which launcher started this process, read from the environment. Pure
// functions of an environment map, so every case is unit-testable; the real
// process environment comes from process_environment().
//
// What the environment is for: deciding whether to initialise MPI at all
// (with no launcher, pouch is a world of one and never touches MPI), and
// logging. Once MPI is up, rank, size and local rank come from MPI
// (MPI_Comm_rank, MPI_Comm_split_type), never from these variables.
//
// Detection, first match wins:
//  - Open MPI mpirun: OMPI_COMM_WORLD_RANK / _SIZE / _LOCAL_RANK. Checked
//    first: under mpirun inside an sbatch job every rank also sees the batch
//    shell's SLURM_PROCID=0.
//  - Slurm srun: SLURM_PROCID together with SLURM_STEP_ID (set for tasks srun
//    starts, not for the batch script itself), no OMPI_* variables; size from
//    SLURM_STEP_NUM_TASKS (or SLURM_NTASKS), local rank from SLURM_LOCALID.
//    Debian's Open MPI can only join such a job through PMIx
//    (srun --mpi=pmix, which also sets PMIX_RANK); a multi-task step without
//    PMIx is refused with that advice, a one-task step runs as a world of one.
//  - PMIx (prterun, other PMIx launchers): PMIX_RANK; size from PMIX_SIZE if
//    present (else unknown until MPI is up: 0).
//  - none: a world of one.
#include <map>
#include <string>

namespace pouch {

enum class Launcher { None, OpenMpi, Slurm, Pmix };
// "none", "Open MPI (mpirun)", "Slurm (srun)", "PMIx".
const char* launcher_name(Launcher launcher);

using EnvMap = std::map<std::string, std::string>;

struct LaunchEnv {
  Launcher launcher = Launcher::None;
  int rank = 0;        // as the environment says
  int size = 1;        // 0: not known before MPI is up
  int local_rank = 0;  // as the environment says; -1 if absent
  bool has_pmix = false;
  // True when MPI must be initialised: a launcher started this process and
  // Open MPI can join it (for srun: only through PMIx).
  bool wants_mpi() const;
  // "Open MPI (mpirun): rank 3 of 4, local rank 1" / "none: a world of one".
  std::string describe() const;
};

// Throws pouch::Error when a launcher variable is not a number, or when srun
// started several tasks without PMIx (Open MPI could not join them).
LaunchEnv detect_launch_env(const EnvMap& env);

// The current process's environment (environ).
EnvMap process_environment();

}  // namespace pouch
