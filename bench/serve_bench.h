#pragma once
// `pouch serve` under load (behind `pouch bench serve`), one run, all on
// loopback: an in-process HttpServer with an in-memory model, driven by
// LoopbackClient threads (serve/loopback_client.h), each on one keep-alive
// connection, each request sent after the previous answer:
//   generate  at each concurrency level, `requests` POST /generate in all
//             (greedy, request k's prompt is "Q: <k % 100>+58=", so every level
//             generates the same tokens): tokens/s, requests/s, p50/p99 latency, failures;
//   swap      the same levels while a thread installs a new model version
//             every swap_ms (versions must never go back for a client);
//   health    GET /health over health_connections connections: requests/s.
// Bounded: a fixed number of requests per level, every wait under a timeout.
#include <cstdint>
#include <vector>

#include "model/gpt_config.h"

namespace pouch {

struct ServeBenchConfig {
  GPTConfig model;  // r1-tiny's shape by default
  std::vector<int> clients{1, 4, 16, 64};
  int requests = 256;  // per level
  std::int64_t max_tokens = 32;
  int swap_ms = 250;  // 0: no swap runs; faster swaps split the batch by version (a request keeps its own)
  int health_connections = 16;
  int health_requests = 32000;
};

void run_serve_bench(const ServeBenchConfig& cfg);

}  // namespace pouch
