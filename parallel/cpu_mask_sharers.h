#pragma once
// Which ranks of this node run on the same CPUs: the input to
// choose_compute_threads (runtime/threads.h). Collective over MPI_COMM_WORLD
// when MPI is initialised (every rank calls it once, at start-up); a world of
// one shares its mask with nobody.
#include <vector>

namespace pouch {

struct MaskSharers {
  int sharers = 1;  // ranks on this node whose affinity mask equals `mask`, this one included
  int index = 0;    // this rank's position among them, by world rank
};

MaskSharers cpu_mask_sharers(const std::vector<int>& mask);

}  // namespace pouch
