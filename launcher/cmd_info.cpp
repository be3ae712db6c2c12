// pouch info: what this build can run on and what this machine offers: the
// backends compiled in, the devices seen, and what runtime.device = auto picks.
#include <cstdio>
#include <iostream>

#include "launcher/command_line.h"
#include "launcher/commands.h"
#include "runtime/backend.h"
#include "runtime/cpu/blas_kernel_choice.h"
#include "runtime/device_setting.h"
#include "runtime/threads.h"

namespace pouch {

namespace po = boost::program_options;

namespace {

constexpr const char* kInfoUsage = R"(usage: pouch info

Prints the version, the backends this build has (cpu, sim; cuda with the
reason when it is not built), the devices it sees, and the device
runtime.device = auto chooses here.

Options)";

}  // namespace

int run_info_command(const std::vector<std::string>& args) {
  po::options_description opts(kInfoUsage);
  opts.add_options()("help,h", "print this help");
  const po::variables_map vm = parse_options(args, opts);
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  const CudaAvailability cuda = cuda_availability();
  std::printf("pouch %s\n", POUCH_VERSION);
  std::printf("backends:\n");
  std::printf("  cpu   built (OpenMP kernels + OpenBLAS)\n");
  std::printf("  sim   built (simulated device: host memory behind device rules; POUCH_SIM_DELAY_US adds delays)\n");
  if (cuda.built)
    std::printf("  cuda  built\n");
  else
    std::printf("  cuda  not built: %s\n", cuda.reason.c_str());
  std::printf("devices:\n");
  std::printf("  cpu   %d compute threads; %s\n", compute_threads(), cpu::blas_kernel_summary().c_str());
  if (cuda.built)
    std::printf("  cuda  %d visible%s%s\n", cuda.devices, cuda.devices == 0 ? ": " : "",
                cuda.devices == 0 ? cuda.reason.c_str() : "");
  else
    std::printf("  cuda  none (not built)\n");
  std::printf("runtime.device = auto runs on: %s\n",
              std::string(device_name(resolve_device("auto", "runtime.device"))).c_str());
  return 0;
}

}  // namespace pouch
