#include "bench/serve_bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
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

// One level's figures, for the table and the medians over repeats.
struct LevelFigures {
  double tokens_per_s = 0, tokens_per_request = 0, requests_per_s = 0, p50_ms = 0, p99_ms = 0;
  std::int64_t failed = 0, went_back = 0;
  // The batcher's steps during the level: mean wall time of one, and the
  // share of that wall time its thread was running (the rest it waited for
  // a core: the machine's load, not the batch's work).
  double step_ms = 0, ran_share = 0;
  double ratio() const { return p99_ms / std::max(1e-9, p50_ms); }
};

LevelFigures figures(const LevelResult& r) {
  LevelFigures f;
  f.tokens_per_s = static_cast<double>(r.tokens) / r.seconds;
  f.tokens_per_request = static_cast<double>(r.tokens) / static_cast<double>(std::max<std::int64_t>(1, r.ok));
  f.requests_per_s = static_cast<double>(r.ok) / r.seconds;
  f.p50_ms = percentile(r.latency_ms, 0.5);
  f.p99_ms = percentile(r.latency_ms, 0.99);
  f.failed = r.failed;
  f.went_back = r.went_back;
  return f;
}

double median(std::vector<double> v) { return percentile(std::move(v), 0.5); }

// Median over repeats (range in brackets when there are several) of each
// column; failures and went-back are summed.
void print_level(const std::string& what, int clients, const std::vector<LevelFigures>& runs,
                 const std::vector<double>& base_tokens_per_s) {
  auto column = [&](auto get) {
    std::vector<double> v;
    for (std::size_t i = 0; i < runs.size(); ++i) v.push_back(get(i));
    return v;
  };
  auto cell = [&](const std::vector<double>& v, const char* format) {
    std::string out = fmt::format(fmt::runtime(format), median(v));
    if (v.size() > 1)
      out += fmt::format(fmt::runtime(std::string(" [") + format + "-" + format + "]"),
                         *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()));
    return out;
  };
  std::int64_t failed = 0, went_back = 0;
  for (const auto& r : runs) {
    failed += r.failed;
    went_back += r.went_back;
  }
  std::printf(
      "%-13s %7d %17s %17s %7.1f %7.0f %19s %19s %17s %7.2f %4.0f%% %6lld %9lld\n", what.c_str(), clients,
      cell(column([&](std::size_t i) { return runs[i].tokens_per_s; }), "{:.0f}").c_str(),
      cell(column([&](std::size_t i) { return runs[i].tokens_per_s / base_tokens_per_s[i]; }), "{:.2f}").c_str(),
      median(column([&](std::size_t i) { return runs[i].tokens_per_request; })),
      median(column([&](std::size_t i) { return runs[i].requests_per_s; })),
      cell(column([&](std::size_t i) { return runs[i].p50_ms; }), "{:.1f}").c_str(),
      cell(column([&](std::size_t i) { return runs[i].p99_ms; }), "{:.1f}").c_str(),
      cell(column([&](std::size_t i) { return runs[i].ratio(); }), "{:.2f}").c_str(),
      median(column([&](std::size_t i) { return runs[i].step_ms; })),
      100 * median(column([&](std::size_t i) { return runs[i].ran_share; })), static_cast<long long>(failed),
      static_cast<long long>(went_back));
}

double load_average() {
  double load[1] = {0};
  return ::getloadavg(load, 1) == 1 ? load[0] : -1;
}

}  // namespace

void run_serve_bench(const ServeBenchConfig& cfg) {
  if (cfg.requests < 1 || cfg.max_tokens < 1 || cfg.health_connections < 1 || cfg.health_requests < 1 ||
      cfg.repeats < 1)
    fail("--requests, --max-tokens, --repeats and the health counts must be >= 1");
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
      "level, batch up to %lld, %d run(s)%s; load average %.1f on %u cores at the start\n",
      static_cast<long long>(cfg.model.layers), static_cast<long long>(cfg.model.d_model),
      static_cast<long long>(cfg.model.seq_len), static_cast<long long>(cfg.model.vocab_size),
      static_cast<long long>(cfg.max_tokens), cfg.requests, static_cast<long long>(options.max_batch), cfg.repeats,
      cfg.repeats > 1 ? " (median [min-max])" : "", load_average(), std::thread::hardware_concurrency());
  std::printf("%-13s %7s %17s %17s %7s %7s %19s %19s %17s %7s %5s %6s %9s\n", "run", "clients", "tokens/s", "vs 1",
              "tok/req", "req/s", "p50 ms", "p99 ms", "p99/p50", "step ms", "ran", "failed", "went back");
  struct Mode {
    const char* name;
    bool fixed, swapping;
  };
  const Mode modes[] = {
      {"fixed", true, false}, {"fixed+swap", true, true}, {"natural", false, false}, {"natural+swap", false, true}};
  // figures[mode][level][repeat]; the repeats interleave (all modes, then
  // again) so that a burst of load elsewhere on the machine is spread over them.
  std::vector<std::vector<std::vector<LevelFigures>>> all(std::size(modes),
                                                          std::vector<std::vector<LevelFigures>>(cfg.clients.size()));
  for (int rep = 0; rep < cfg.repeats; ++rep) {
    for (std::size_t m = 0; m < std::size(modes); ++m) {
      const Mode& mode = modes[m];
      if (mode.swapping && cfg.swap_ms <= 0) continue;
      const Send generate = [&](LoopbackClient& client, int k) -> std::optional<HttpReply> {
        auto reply =
            client.request("POST", "/generate",
                           fmt::format(R"({{"prompt": "Q: 37+58=", "max_tokens": {}, "temperature": 1, "seed": {}{}}})",
                                       cfg.max_tokens, k, mode.fixed ? R"(, "ignore_eos": true)" : ""));
        if (mode.fixed && reply && reply->status == 200) {
          const auto body = nlohmann::json::parse(reply->body, nullptr, false);
          if (!body.contains("tokens") || body["tokens"] != cfg.max_tokens) reply->status = 0;  // counted as failed
        }
        return reply;
      };
      std::atomic<bool> stop_swaps{false};
      std::thread swapper;
      if (mode.swapping)
        swapper = std::thread([&] {
          while (!stop_swaps) {
            slot.install(bench_model(cfg.model, ++version, weights));
            std::this_thread::sleep_for(std::chrono::milliseconds(cfg.swap_ms));
          }
        });
      for (std::size_t level = 0; level < cfg.clients.size(); ++level) {
        const StepTimes before = server.step_times();
        LevelFigures f = figures(drive(port, cfg.clients[level], cfg.requests, generate));
        const StepTimes after = server.step_times();
        const double wall = after.wall_s - before.wall_s;
        f.step_ms = 1e3 * wall / static_cast<double>(std::max<std::int64_t>(1, after.steps - before.steps));
        f.ran_share = (after.cpu_s - before.cpu_s) / std::max(1e-9, wall);
        all[m][level].push_back(f);
      }
      stop_swaps = true;
      if (swapper.joinable()) swapper.join();
    }
  }
  for (std::size_t m = 0; m < std::size(modes); ++m) {
    if (all[m][0].empty()) continue;
    std::vector<double> base;
    for (const auto& f : all[m][0]) base.push_back(f.tokens_per_s);
    for (std::size_t level = 0; level < cfg.clients.size(); ++level)
      print_level(modes[m].name, cfg.clients[level], all[m][level], base);
  }
  if (cfg.swap_ms > 0)
    std::printf("              (swap runs: a new version every %d ms, %lld versions installed in all)\n", cfg.swap_ms,
                static_cast<long long>(version.load()));
  const LevelResult h = drive(port, cfg.health_connections, cfg.health_requests,
                              [](LoopbackClient& client, int) { return client.request("GET", "/health"); });
  std::printf("health   %7d connections: %.0f requests/s, p50 %.3f ms, p99 %.3f ms, %lld failed\n",
              cfg.health_connections, static_cast<double>(h.ok) / h.seconds, percentile(h.latency_ms, 0.5),
              percentile(h.latency_ms, 0.99), static_cast<long long>(h.failed));
  std::printf("load average %.1f at the end\n", load_average());
  server.stop();
  serving.join();
  set_log_level(saved_level);
}

}  // namespace pouch
