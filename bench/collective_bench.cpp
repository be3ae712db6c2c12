#include "bench/collective_bench.h"

#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>

#include "parallel/comm_options.h"
#include "parallel/mpi_communicator.h"
#include "parallel/watchdog.h"
#include "runtime/error.h"

namespace pouch {

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One round: common start, `iterations` x op (the form loops itself), then
// the slowest rank's time per all-reduce.
double time_round(const std::function<void()>& round, int iterations) {
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  round();
  double t = (MPI_Wtime() - t0) / iterations;
  MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return t;
}

}  // namespace

AllreduceBenchResult run_allreduce_bench(const AllreduceBenchConfig& cfg, bool print) {
  if (!mpi_is_running())
    fail(
        "pouch bench allreduce measures all-reduce between ranks: start it under a launcher, e.g. "
        "`mpirun -np 2 pouch bench allreduce`");
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2) fail("pouch bench allreduce needs at least 2 ranks (started with {}): `mpirun -np 2 ...`", size);
  if (cfg.rounds < 1) fail("the benchmark needs at least one round (got {})", cfg.rounds);

  MPI_Comm raw_comm = MPI_COMM_NULL;
  MPI_Comm_dup(MPI_COMM_WORLD, &raw_comm);
  AllreduceBenchResult result;
  result.ranks = size;
  {
    MpiCommunicator comm(MPI_COMM_WORLD, "world", {cfg.timeout_s, nullptr, nullptr, PeerWait::Auto});
    MpiCommunicator sleeper(MPI_COMM_WORLD, "world", {cfg.timeout_s, nullptr, nullptr, PeerWait::Sleep});
    result.peer_wait = peer_wait_name(comm.peer_wait());
    const double bus_factor = 2.0 * (size - 1) / size;
    if (print && rank == 0)
      std::printf(
          "all-reduce (f32 sum, in place) on %d ranks: time per all-reduce (slowest rank, median of %d "
          "rounds), bus bandwidth, ratio to raw\n%9s %22s %30s %30s %30s\n",
          size, cfg.rounds, "size", "raw MPI_Allreduce",
          ("blocking (peer wait " + std::string(result.peer_wait) + ")").c_str(),
          ("async (peer wait " + std::string(result.peer_wait) + ")").c_str(), "blocking (peer wait sleep)");
    for (const std::size_t bytes : cfg.sizes_bytes) {
      const std::int64_t n = static_cast<std::int64_t>(bytes / sizeof(float));
      Tensor buf = Tensor::zeros({n});  // zeros stay zeros: no overflow, no denormals over many sums
      const int iterations = cfg.iterations > 0     ? cfg.iterations
                             : bytes <= (1u << 20)  ? 20
                             : bytes <= (16u << 20) ? 5
                                                    : 2;
      const std::function<void()> forms[4] = {[&] {
                                                for (int i = 0; i < iterations; ++i)
                                                  MPI_Allreduce(MPI_IN_PLACE, buf.raw(), static_cast<int>(n), MPI_FLOAT,
                                                                MPI_SUM, raw_comm);
                                              },
                                              [&] {
                                                for (int i = 0; i < iterations; ++i)
                                                  comm.all_reduce(buf, ReduceOp::Sum);
                                              },
                                              [&] {
                                                std::vector<WorkHandle> works;
                                                for (int i = 0; i < iterations; ++i)
                                                  works.push_back(comm.all_reduce_async(buf, ReduceOp::Sum));
                                                for (auto& w : works) w->wait();
                                              },
                                              [&] {
                                                for (int i = 0; i < iterations; ++i)
                                                  sleeper.all_reduce(buf, ReduceOp::Sum);
                                              }};
      std::vector<double> times[4];
      time_round(forms[1], iterations);  // warm-up: first touch, MPI's buffers
      for (int round = 0; round < cfg.rounds; ++round)
        for (int k = 0; k < 4; ++k) {
          const int form = (round + k) % 4;  // rotate which form goes first
          times[form].push_back(time_round(forms[form], iterations));
        }
      AllreduceBenchRow row;
      row.bytes = bytes;
      row.iterations = iterations;
      row.raw_s = median(times[0]);
      row.blocking_s = median(times[1]);
      row.async_s = median(times[2]);
      row.sleep_s = median(times[3]);
      row.raw_busbw = bus_factor * static_cast<double>(bytes) / row.raw_s / 1e9;
      row.blocking_busbw = bus_factor * static_cast<double>(bytes) / row.blocking_s / 1e9;
      row.async_busbw = bus_factor * static_cast<double>(bytes) / row.async_s / 1e9;
      row.sleep_busbw = bus_factor * static_cast<double>(bytes) / row.sleep_s / 1e9;
      result.rows.push_back(row);
      if (print && rank == 0)
        std::printf(
            "%6.0f MiB %10.3f ms %6.2f GB/s %10.3f ms %6.2f GB/s %5.2fx %10.3f ms %6.2f GB/s %5.2fx %10.3f ms "
            "%6.2f GB/s %5.2fx\n",
            static_cast<double>(bytes) / (1 << 20), row.raw_s * 1e3, row.raw_busbw, row.blocking_s * 1e3,
            row.blocking_busbw, row.blocking_ratio(), row.async_s * 1e3, row.async_busbw, row.async_ratio(),
            row.sleep_s * 1e3, row.sleep_busbw, row.sleep_ratio());
    }
    if (print && rank == 0)
      std::printf("ratio = communicator bandwidth / raw MPI_Allreduce bandwidth, same buffer, same run\n");
  }
  MPI_Comm_free(&raw_comm);
  return result;
}

}  // namespace pouch
