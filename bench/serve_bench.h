#pragma once
// `pouch serve` under load (behind `pouch bench serve`), one run, all on
// loopback: an in-process HttpServer with an in-memory model, driven by
// LoopbackClient threads (serve/loopback_client.h), each on one keep-alive
// connection, each request sent after the previous answer. At each
// concurrency level, `requests` POST /generate in all, request k with prompt
// "Q: 37+58=" (9 tokens), temperature 1 and seed k (so every level generates
// the same tokens), in two modes:
//   fixed    "ignore_eos": true: every request exactly max_tokens new tokens,
//            so every request is the same work and the latency spread is the
//            server's (scheduling) and the machine's, not the requests';
//   natural  stops at the end-of-text token, as real requests do: lengths
//            vary (about 1 in 31 sampled tokens ends an untrained model's text);
// each alone, then while a thread installs a new model version every swap_ms
// (versions must never go back for a client): tokens/s, requests/s, p50/p99
// latency, failures (a fixed-mode answer without max_tokens tokens counts as
// failed), and the batcher's mean step time with the share of it its thread
// was running (HttpServer::step_times). Then GET /health over health_connections connections: requests/s.
// repeats > 1 runs it all that many times and prints each figure's median
// and range. Bounded: a fixed number of requests per level, every wait under
// a timeout.
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
  int repeats = 1;
};

void run_serve_bench(const ServeBenchConfig& cfg);

}  // namespace pouch
