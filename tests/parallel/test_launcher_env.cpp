// parallel/launcher_env.h: which launcher started pouch, from the environment.
#include <gtest/gtest.h>

#include "parallel/launcher_env.h"
#include "runtime/error.h"

namespace pouch {
namespace {

TEST(LauncherEnv, NoLauncherIsAWorldOfOneWithoutMpi) {
  const LaunchEnv e = detect_launch_env({{"HOME", "/root"}, {"PATH", "/usr/bin"}});
  EXPECT_EQ(e.launcher, Launcher::None);
  EXPECT_EQ(e.rank, 0);
  EXPECT_EQ(e.size, 1);
  EXPECT_FALSE(e.wants_mpi());
  EXPECT_EQ(e.describe(), "none: a world of one");
}

TEST(LauncherEnv, OpenMpiMpirun) {
  const LaunchEnv e = detect_launch_env({{"OMPI_COMM_WORLD_RANK", "3"},
                                         {"OMPI_COMM_WORLD_SIZE", "4"},
                                         {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                                         {"PMIX_RANK", "3"}});
  EXPECT_EQ(e.launcher, Launcher::OpenMpi);
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.size, 4);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_TRUE(e.wants_mpi());
  EXPECT_EQ(e.describe(), "Open MPI (mpirun): rank 3 of 4, local rank 1");
}

TEST(LauncherEnv, MpirunInsideAnSbatchJobIsOpenMpiNotSlurm) {
  // Every rank sees the batch shell's SLURM_PROCID=0 (ops-facts): OMPI wins.
  const LaunchEnv e = detect_launch_env({{"SLURM_PROCID", "0"},
                                         {"SLURM_STEP_ID", "0"},
                                         {"SLURM_NTASKS", "4"},
                                         {"OMPI_COMM_WORLD_RANK", "2"},
                                         {"OMPI_COMM_WORLD_SIZE", "4"},
                                         {"OMPI_COMM_WORLD_LOCAL_RANK", "2"}});
  EXPECT_EQ(e.launcher, Launcher::OpenMpi);
  EXPECT_EQ(e.rank, 2);
}

TEST(LauncherEnv, SrunWithPmix) {
  const LaunchEnv e = detect_launch_env({{"SLURM_PROCID", "5"},
                                         {"SLURM_STEP_ID", "0"},
                                         {"SLURM_STEP_NUM_TASKS", "8"},
                                         {"SLURM_NTASKS", "16"},
                                         {"SLURM_LOCALID", "1"},
                                         {"PMIX_RANK", "5"}});
  EXPECT_EQ(e.launcher, Launcher::Slurm);
  EXPECT_EQ(e.rank, 5);
  EXPECT_EQ(e.size, 8);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_TRUE(e.wants_mpi());
}

TEST(LauncherEnv, SrunStaysSlurmAfterMpiInitAddsItsOwnVariables) {
  // What a srun task's environment holds once MPI_Init has run (seen under
  // srun --mpi=pmix): Open MPI's MCA settings, but no OMPI_COMM_WORLD_*.
  const LaunchEnv e = detect_launch_env({{"SLURM_PROCID", "1"},
                                         {"SLURM_STEP_ID", "0"},
                                         {"SLURM_STEP_NUM_TASKS", "2"},
                                         {"SLURM_LOCALID", "1"},
                                         {"PMIX_RANK", "1"},
                                         {"OMPI_MCA_ess", "pmi"},
                                         {"OMPI_MCA_orte_ess_num_procs", "2"}});
  EXPECT_EQ(e.launcher, Launcher::Slurm);
  EXPECT_EQ(e.rank, 1);
}

TEST(LauncherEnv, SrunWithoutPmixIsRefusedForSeveralTasks) {
  try {
    detect_launch_env({{"SLURM_PROCID", "1"}, {"SLURM_STEP_ID", "0"}, {"SLURM_NTASKS", "2"}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("srun --mpi=pmix"), std::string::npos) << e.what();
  }
  const LaunchEnv one = detect_launch_env({{"SLURM_PROCID", "0"}, {"SLURM_STEP_ID", "0"}, {"SLURM_NTASKS", "1"}});
  EXPECT_EQ(one.launcher, Launcher::Slurm);
  EXPECT_FALSE(one.wants_mpi());
}

TEST(LauncherEnv, TheBatchScriptItselfIsNotARank) {
  EXPECT_EQ(detect_launch_env({{"SLURM_PROCID", "0"}, {"SLURM_JOB_ID", "7"}, {"SLURM_NTASKS", "4"}}).launcher,
            Launcher::None);
  EXPECT_EQ(detect_launch_env({{"SLURM_PROCID", "0"}, {"SLURM_STEP_ID", "4294967294"}, {"SLURM_NTASKS", "4"}}).launcher,
            Launcher::None);
}

TEST(LauncherEnv, PmixAlone) {
  const LaunchEnv e = detect_launch_env({{"PMIX_RANK", "2"}});
  EXPECT_EQ(e.launcher, Launcher::Pmix);
  EXPECT_EQ(e.rank, 2);
  EXPECT_EQ(e.size, 0);
  EXPECT_TRUE(e.wants_mpi());
}

TEST(LauncherEnv, GarbageInAVariableNamesIt) {
  try {
    detect_launch_env({{"OMPI_COMM_WORLD_RANK", "two"}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("OMPI_COMM_WORLD_RANK='two'"), std::string::npos) << e.what();
  }
}

TEST(LauncherEnv, ReadsTheProcessEnvironment) {
  ::setenv("POUCH_TEST_LAUNCHER_ENV", "x=y", 1);
  const EnvMap env = process_environment();
  ASSERT_TRUE(env.count("POUCH_TEST_LAUNCHER_ENV"));
  EXPECT_EQ(env.at("POUCH_TEST_LAUNCHER_ENV"), "x=y");
}

}  // namespace
}  // namespace pouch
