#include "parallel/cpu_mask_sharers.h"

#include <mpi.h>
#include <sched.h>

#include <cstring>

namespace pouch {

MaskSharers cpu_mask_sharers(const std::vector<int>& mask) {
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (!initialised || finalised) return {};
  cpu_set_t mine;
  CPU_ZERO(&mine);
  for (int c : mask)
    if (c >= 0 && c < CPU_SETSIZE) CPU_SET(c, &mine);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  // Key = world rank: node ranks, and so the sharer index, follow world order.
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  int node_rank = 0, node_size = 1;
  MPI_Comm_rank(node, &node_rank);
  MPI_Comm_size(node, &node_size);
  std::vector<cpu_set_t> all(static_cast<std::size_t>(node_size));
  MPI_Allgather(&mine, static_cast<int>(sizeof(cpu_set_t)), MPI_BYTE, all.data(), static_cast<int>(sizeof(cpu_set_t)),
                MPI_BYTE, node);
  MPI_Comm_free(&node);
  MaskSharers out{0, 0};
  for (int r = 0; r < node_size; ++r) {
    if (!CPU_EQUAL(&all[static_cast<std::size_t>(r)], &mine)) continue;
    if (r < node_rank) ++out.index;
    ++out.sharers;
  }
  return out;
}

}  // namespace pouch
