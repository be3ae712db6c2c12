#pragma once
// The sbatch script `pouch slurm script` prints and `pouch slurm submit`
// submits: a pure function of its options, so every line is unit-testable.
//
// What the script does, and why:
//  - #SBATCH --signal=B:<signal>@<lead>: Slurm signals the batch shell alone
//    (B:) <lead> seconds before the time limit; the shell traps it (and
//    SIGTERM, sent on preemption, scancel and at the time limit) and forwards
//    it to the launcher, which runs in the background while the shell waits
//    (a shell blocked in a foreground command would run its trap only after
//    the run ended). srun and mpirun forward the signal to every rank; every
//    rank checkpoints at the next step boundary and exits with status 75.
//  - The batch shell, not pouch, requeues: it exists once per job (on the
//    first node: rank 0's), outlives the ranks, so it requeues only after
//    every rank has written its part of the checkpoint and exited 75, and it
//    works alike under srun and mpirun. `scontrol requeue` names the array
//    task (ARRAYJOB_TASK) in an array job, else the job.
//  - Chain mode (no --requeue, no scontrol inside the job): `pouch slurm
//    submit --chain=N` submits N jobs, each --dependency=afterany on the one
//    before; each resumes the newest checkpoint (--resume=auto), and one that
//    finds the run finished exits 0 at once.
//  - --open-mode=append and --resume=auto: a requeued run appends to its logs
//    and continues where its checkpoint left off.
#include <string>
#include <vector>

namespace pouch {

struct BatchScriptOptions {
  std::vector<std::string> sbatch;      // sbatch options, one #SBATCH line each ("--ntasks=2", "-N 1")
  std::vector<std::string> train_args;  // after `pouch train`
  std::string pouch;                    // the pouch executable the job runs
  std::string launcher = "srun";        // "srun" (srun --mpi=pmix) or "mpirun"
  std::string stop_signal = "USR1";     // USR1, USR2 or TERM
  int stop_lead_s = 120;                // seconds before the time limit
  bool chain = false;                   // chained jobs instead of requeue
  std::string log_dir = "slurm-logs";   // the batch log and the per-rank logs
};

// `s` as one word for bash: single-quoted, each ' written as '\''.
std::string shell_quote(const std::string& s);

// Throws pouch::Error naming the option and the fix for a value the script
// cannot carry (an unknown signal or launcher, a negative lead, a newline in
// an argument, an sbatch option the script sets itself).
std::string batch_script(const BatchScriptOptions& options);

}  // namespace pouch
