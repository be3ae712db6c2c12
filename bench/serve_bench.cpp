#include "bench/serve_bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "data/char_tokenizer.h"
#include "model/gpt.h"
#include "runtime/error.h"
#include "runtime/log.h"
#include "serve/http_server.h"
#include "serve/loopback_client.h"

namespace pouch {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A new version: `weights` copied into a GPT of its own (a memcpy per tensor,
// so the swapping thread takes little CPU from the server it measures).
std::shared_ptr<const ServingModel> bench_model(const GPTConfig& cfg, std::int64_t version,
                                                const std::vector<std::pair<std::string, Tensor>>& weights) {
  auto backend = make_backend(Device::CPU);
  auto model = std::make_unique<GPT>(cfg, *backend);
  model->load_named(weights, "bench");
  return ServingModel::adopt(std::move(backend), std::move(model),
                             std::make_unique<CharTokenizer>(CharTokenizer::reasoning()), version, "bench");
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
}

struct LevelResult {
  double seconds = 0;
  std::int64_t tokens = 0, ok = 0, failed = 0, went_back = 0;
  std::vector<double> latency_ms;
};

// `clients` threads share `total` requests; request k is sent by client
// k % clients, in order.
using Send = std::function<std::optional<HttpReply>(LoopbackClient&, int)>;

LevelResult drive(int port, int clients, int total, const Send& send) {
  std::vector<LevelResult> per(static_cast<std::size_t>(clients));
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      LoopbackClient client(port, 60s);
      LevelResult& r = per[static_cast<std::size_t>(c)];
      std::int64_t last_version = -1;
      for (int k = c; k < total; k += clients) {
        const auto t0 = Clock::now();
        const auto reply = send(client, k);
        r.latency_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!reply || reply->status != 200) {
          ++r.failed;
          continue;
        }
        ++r.ok;
        if (reply->body.front() != '{') continue;
        const auto body = nlohmann::json::parse(reply->body, nullptr, false);
        if (body.contains("tokens")) r.tokens += body["tokens"].get<std::int64_t>();
        if (body.contains("version") && body["version"].is_number()) {
          const auto v = body["version"].get<std::int64_t>();
          r.went_back += v < last_version;
          last_version = v;
        }
      }
    });
  for (auto& t : threads) t.join();
  LevelResult all;
  all.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (const auto& r : per) {
    all.tokens += r.tokens;
    all.ok += r.ok;
    all.failed += r.failed;
    all.went_back += r.went_back;
    all.latency_ms.insert(all.latency_ms.end(), r.latency_ms.begin(), r.latency_ms.end());
  }
  return all;
}

void print_level(const char* what, int clients, const LevelResult& r, double base_tokens_per_s) {
  const double tps = static_cast<double>(r.tokens) / r.seconds;
  std::printf("%-8s %7d %10.0f %8.2fx %7.1f %9.1f %9.2f %9.2f %6.2f %7lld %9lld\n", what, clients, tps,
              base_tokens_per_s > 0 ? tps / base_tokens_per_s : 1.0,
              static_cast<double>(r.tokens) / static_cast<double>(std::max<std::int64_t>(1, r.ok)),
              static_cast<double>(r.ok) / r.seconds, percentile(r.latency_ms, 0.5), percentile(r.latency_ms, 0.99),
              percentile(r.latency_ms, 0.99) / std::max(1e-9, percentile(r.latency_ms, 0.5)),
              static_cast<long long>(r.failed), static_cast<long long>(r.went_back));
}

}  // namespace

void run_serve_bench(const ServeBenchConfig& cfg) {
  if (cfg.requests < 1 || cfg.max_tokens < 1 || cfg.health_connections < 1 || cfg.health_requests < 1)
    fail("--requests, --max-tokens and the health counts must be >= 1");
  const LogLevel saved_level = log_level();
  set_log_level(LogLevel::Warn);  // the per-request log lines would dominate
  ModelSlot slot;
  std::atomic<std::int64_t> version{1};
  auto template_backend = make_backend(Device::CPU);
  GPT template_model(cfg.model, *template_backend);
  template_model.init_weights(1000);
  const auto weights = template_model.named_values();
  slot.install(bench_model(cfg.model, version, weights));
  ServeOptions options;
  options.port = 0;
  options.source = "bench";
  options.watching = false;
  HttpServer server(slot, options);
  const int port = server.bind();
  std::thread serving([&] { server.run(); });

  std::printf(
      "serve bench: model layers %lld d_model %lld seq %lld vocab %lld, max_tokens %lld, %d requests per "
      "level, batch up to %lld\n",
      static_cast<long long>(cfg.model.layers), static_cast<long long>(cfg.model.d_model),
      static_cast<long long>(cfg.model.seq_len), static_cast<long long>(cfg.model.vocab_size),
      static_cast<long long>(cfg.max_tokens), cfg.requests, static_cast<long long>(options.max_batch));
  std::printf("%-8s %7s %10s %9s %7s %9s %9s %9s %6s %7s %9s\n", "run", "clients", "tokens/s", "vs 1", "tok/req",
              "req/s", "p50 ms", "p99 ms", "p99/50", "failed", "went back");
  auto generate = [&](LoopbackClient& client, int k) {
    return client.request(
        "POST", "/generate",
        fmt::format(R"({{"prompt": "Q: 37+58=", "max_tokens": {}, "temperature": 1, "seed": {}}})", cfg.max_tokens, k));
  };
  for (const bool swapping : {false, true}) {
    if (swapping && cfg.swap_ms <= 0) break;
    std::atomic<bool> stop_swaps{false};
    std::thread swapper;
    if (swapping)
      swapper = std::thread([&] {
        while (!stop_swaps) {
          slot.install(bench_model(cfg.model, ++version, weights));
          std::this_thread::sleep_for(std::chrono::milliseconds(cfg.swap_ms));
        }
      });
    double base = 0;
    for (const int clients : cfg.clients) {
      const LevelResult r = drive(port, clients, cfg.requests, generate);
      if (clients == cfg.clients.front()) base = static_cast<double>(r.tokens) / r.seconds;
      print_level(swapping ? "swap" : "generate", clients, r, base);
    }
    stop_swaps = true;
    if (swapper.joinable()) swapper.join();
    if (swapping)
      std::printf("         (versions installed during the swap runs: up to %lld)\n",
                  static_cast<long long>(version.load()));
  }
  const LevelResult h = drive(port, cfg.health_connections, cfg.health_requests,
                              [](LoopbackClient& client, int) { return client.request("GET", "/health"); });
  std::printf("health   %7d connections: %.0f requests/s, p50 %.3f ms, p99 %.3f ms, %lld failed\n",
              cfg.health_connections, static_cast<double>(h.ok) / h.seconds, percentile(h.latency_ms, 0.5),
              percentile(h.latency_ms, 0.99), static_cast<long long>(h.failed));
  server.stop();
  serving.join();
  set_log_level(saved_level);
}

}  // namespace pouch
