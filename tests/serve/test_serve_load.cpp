// Load under swaps: a publisher process publishes a new version every 50 ms
// while 4 client threads post /generate (300 requests in all). No request
// may fail, each client must see versions that never go back (each of its
// requests starts after the previous one ended, and the server only moves
// forward), and more than one version must have answered.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "serve_test_util.h"

extern char** environ;

namespace pouch {
namespace {

using namespace std::chrono_literals;

// The publisher runs in its own process, as training does.
class Publisher {
 public:
  Publisher(const std::string& dir, int count, int interval_ms) {
    const std::string first = "1", n = std::to_string(count), ms = std::to_string(interval_ms);
    const char* argv[] = {POUCH_SERVE_PUBLISHER, dir.c_str(), first.c_str(), n.c_str(), ms.c_str(), nullptr};
    const int rc = posix_spawn(&pid_, POUCH_SERVE_PUBLISHER, nullptr, nullptr, const_cast<char**>(argv), environ);
    EXPECT_EQ(rc, 0) << "cannot start " << POUCH_SERVE_PUBLISHER;
  }
  ~Publisher() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);  // mid-publish, as a crash would: LATEST stays whole
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }

 private:
  pid_t pid_ = -1;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

TEST(ServeLoad, SwapsUnderTrafficWithoutFailures) {
  testing::TempDir tmp;
  const std::string dir = serving_dir(tmp.file("run"));
  ModelSlot slot;
  ModelWatcher watcher(dir, slot, 20ms);
  testing::RunningServer server(slot, ServeOptions{.max_queue = 16, .source = dir});
  watcher.start();
  Publisher publisher(dir, /*count=*/200, /*interval_ms=*/50);
  ASSERT_TRUE(testing::eventually([&] { return slot.current() != nullptr; }, 30s)) << "no first version";

  constexpr int kClients = 4, kPerClient = 75;
  std::vector<std::vector<std::int64_t>> versions(kClients);
  std::vector<std::vector<double>> latencies(kClients);
  std::atomic<int> failures{0};
  std::vector<std::string> failure_samples;
  std::mutex failure_mutex;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", server.port());
      client.set_read_timeout(30, 0);
      for (int i = 0; i < kPerClient; ++i) {
        const std::string body =
            fmt::format(R"({{"prompt": "Q: {}+{}=", "max_tokens": 12, "temperature": 0.8}})", c, i);
        const auto start = std::chrono::steady_clock::now();
        auto res = client.Post("/generate", body, "application/json");
        latencies[c].push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        if (!res || res->status != 200) {
          ++failures;
          std::lock_guard lock(failure_mutex);
          failure_samples.push_back(res ? fmt::format("{} {}", res->status, res->body)
                                        : httplib::to_string(res.error()));
          continue;
        }
        versions[c].push_back(nlohmann::json::parse(res->body)["version"].get<std::int64_t>());
        std::this_thread::sleep_for(5ms);  // a client's think time, so the run spans several publishes
      }
    });
  }
  for (auto& t : clients) t.join();
  watcher.stop();

  std::set<std::int64_t> seen;
  std::vector<double> all_latencies;
  int requests = 0;
  for (int c = 0; c < kClients; ++c) {
    requests += static_cast<int>(latencies[c].size());
    all_latencies.insert(all_latencies.end(), latencies[c].begin(), latencies[c].end());
    seen.insert(versions[c].begin(), versions[c].end());
    EXPECT_TRUE(std::is_sorted(versions[c].begin(), versions[c].end())) << "client " << c << " saw a version go back";
  }
  std::printf(
      "serve load: %d requests, %d failures, %zu versions seen (%lld..%lld), latency p50 %.1f ms, p99 %.1f ms\n",
      requests, failures.load(), seen.size(), static_cast<long long>(*seen.begin()),
      static_cast<long long>(*seen.rbegin()), percentile(all_latencies, 0.5), percentile(all_latencies, 0.99));
  EXPECT_EQ(requests, kClients * kPerClient);
  EXPECT_EQ(failures.load(), 0) << (failure_samples.empty() ? "" : failure_samples.front());
  EXPECT_GT(seen.size(), 1u) << "only one version answered: the swaps were not exercised";
}

}  // namespace
}  // namespace pouch
