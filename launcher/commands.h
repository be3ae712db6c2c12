#pragma once
// The subcommands of `pouch`. Each takes the arguments after its name, prints
// its own --help, and returns the process exit code; user errors are thrown
// as pouch::Error and reported by main.
#include <string>
#include <vector>

namespace pouch {

int run_train_command(const std::vector<std::string>& args);
int run_eval_command(const std::vector<std::string>& args);
int run_generate_command(const std::vector<std::string>& args);
int run_data_command(const std::vector<std::string>& args);
int run_bench_command(const std::vector<std::string>& args);
int run_ckpt_command(const std::vector<std::string>& args);
int run_serve_command(const std::vector<std::string>& args);
int run_info_command(const std::vector<std::string>& args);
int run_slurm_command(const std::vector<std::string>& args);

}  // namespace pouch
