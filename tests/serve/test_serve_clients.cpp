// The server under real clients on loopback: half-sent requests, idle
// connections, the connection limit, the body limit to the byte, /health
// throughput over keep-alive connections, the optional max_tokens, and a
// model whose vocabulary is larger than its tokenizer's.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "serve/generate_request.h"
#include "serve/loopback_client.h"
#include "serve_test_util.h"

namespace pouch {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::RunningServer;
using testing::tiny_serving_model;

class ServeClientsTest : public ::testing::Test {
 protected:
  void start(ServeOptions options) {
    options.source = "memory";
    options.watching = false;
    server_ = std::make_unique<RunningServer>(slot_, std::move(options));
  }
  // A server whose model has `cfg` with one change, and a client to it.
  LoopbackClient start_with(GPTConfig cfg, std::uint64_t seed) {
    slot_.install(tiny_serving_model(0, seed, cfg));
    start(ServeOptions{});
    return LoopbackClient(port(), 10s);
  }
  int port() const { return server_->port(); }
  std::pair<int, json> call(LoopbackClient& client, const char* method, const char* path, const std::string& body) {
    const auto reply = client.request(method, path, body);
    if (!reply) {
      ADD_FAILURE() << method << " " << path << ": " << client.error();
      return {0, json()};
    }
    return {reply->status, json::parse(reply->body, nullptr, false)};
  }

  ModelSlot slot_;
  std::unique_ptr<RunningServer> server_;
};

// 300 connections that sent half a request each hold a connection, not the
// server: /health and /generate still answer at once, and the half-sent
// ones get 408 and are closed when io_timeout passes.
TEST_F(ServeClientsTest, HalfSentRequestsDoNotBlockOthers) {
  slot_.install(tiny_serving_model(0, 1));
  start(ServeOptions{.io_timeout_ms = 1500});
  std::vector<std::unique_ptr<LoopbackClient>> stalled;
  for (int i = 0; i < 300; ++i) {
    stalled.push_back(std::make_unique<LoopbackClient>(port(), 5s));
    ASSERT_TRUE(
        stalled.back()->send_raw(i % 2 ? "POST /generate HTTP/1.1\r\nContent-Length: 40\r\n\r\n{\"pro" : "GET /hea"))
        << stalled.back()->error();
  }
  LoopbackClient client(port(), 1s);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(call(client, "GET", "/health", "").first, 200);
  EXPECT_EQ(call(client, "POST", "/generate", R"({"prompt": "Q: 1+2=", "max_tokens": 4})").first, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);

  for (int i : {0, 1, 299}) {
    const auto reply = stalled[i]->read_reply();
    ASSERT_TRUE(reply) << "connection " << i << ": " << stalled[i]->error();
    EXPECT_EQ(reply->status, 408);
    EXPECT_TRUE(reply->closes);
  }
}

// Idle keep-alive connections are closed after idle_timeout, which frees
// their places; past max_connections a connection is refused with a 503 that
// says why.
TEST_F(ServeClientsTest, ConnectionLimitAndIdleTimeout) {
  slot_.install(tiny_serving_model(0, 1));
  start(ServeOptions{.max_connections = 8, .idle_timeout_ms = 700});
  std::vector<std::unique_ptr<LoopbackClient>> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(std::make_unique<LoopbackClient>(port(), 3s));
    ASSERT_EQ(call(*held.back(), "GET", "/health", "").first, 200);
  }
  LoopbackClient extra(port(), 3s);
  const auto refused = extra.request("GET", "/health");
  ASSERT_TRUE(refused) << extra.error();
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(refused->body.find("--max-connections"), std::string::npos) << refused->body;

  for (auto& c : held) EXPECT_TRUE(c->closed_by_server());  // within 3 s; idle_timeout is 0.7 s
  EXPECT_EQ(call(extra, "GET", "/health", "").first, 200);
}

// The limit is max_body_bytes exactly: one byte under and at the limit are
// read (20 KB is far under the default 65536), one byte over is 413.
TEST_F(ServeClientsTest, BodyLimitToTheByte) {
  slot_.install(tiny_serving_model(0, 1));
  start(ServeOptions{});
  const std::size_t limit = ServeOptions{}.max_body_bytes;
  // A valid request padded with JSON whitespace to `size` bytes.
  auto body_of = [](std::size_t size) {
    std::string body = R"({"prompt": "Q: 1+2=", "max_tokens": 2)";
    body += std::string(size - body.size() - 1, ' ') + "}";
    return body;
  };
  LoopbackClient client(port(), 5s);
  for (const std::size_t size : {std::size_t{20000}, limit - 1, limit}) {
    auto [status, reply] = call(client, "POST", "/generate", body_of(size));
    EXPECT_EQ(status, 200) << size << " bytes: " << reply.dump();
  }
  auto [status, reply] = call(client, "POST", "/generate", body_of(limit + 1));
  EXPECT_EQ(status, 413);
  EXPECT_NE(reply["error"].get<std::string>().find(fmt::format("{} bytes", limit + 1)), std::string::npos)
      << reply.dump();
  EXPECT_NE(reply["error"].get<std::string>().find(fmt::format("limit of {} bytes", limit)), std::string::npos);
}

// 8 keep-alive connections, 250 sequential /health each: 2000 requests in
// well under 3 s (the old server managed ~280 requests/s: 7 s).
TEST_F(ServeClientsTest, HealthOverKeepAliveIsFast) {
  slot_.install(tiny_serving_model(0, 1));
  start(ServeOptions{});
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&] {
      LoopbackClient client(port(), 5s);
      for (int i = 0; i < 250; ++i) {
        const auto reply = client.request("GET", "/health");
        if (reply && reply->status == 200 && !reply->closes) ++ok;
      }
    });
  for (auto& t : clients) t.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ok, 2000);
  EXPECT_LT(s, 3.0) << 2000 / s << " requests/s";
}

// Without max_tokens a request gets kDefaultMaxTokens, cut to the room its
// prompt leaves in the context (32 here).
TEST_F(ServeClientsTest, MaxTokensIsOptional) {
  GPTConfig cfg = testing::tiny_serving_config();
  cfg.seq_len = 128;
  LoopbackClient client = start_with(cfg, 3);
  // Sampling at a high temperature rarely hits the end-of-text token.
  auto [status, reply] = call(client, "POST", "/generate", R"({"prompt": "Q", "temperature": 5, "seed": 1})");
  ASSERT_EQ(status, 200) << reply.dump();
  EXPECT_GT(reply["tokens"].get<std::int64_t>(), 0);
  EXPECT_LE(reply["tokens"].get<std::int64_t>(), kDefaultMaxTokens);

  cfg.seq_len = 8;
  slot_.install(tiny_serving_model(1, 3, cfg));
  auto [short_status, short_reply] =
      call(client, "POST", "/generate", R"({"prompt": "Q: 1+", "temperature": 5, "seed": 1})");
  ASSERT_EQ(short_status, 200) << short_reply.dump();
  EXPECT_LE(short_reply["tokens"].get<std::int64_t>(), 4);  // 8 - 4 prompt tokens
}

// A model with vocab_size 64 over the 31-character tokenizer (a plain
// config's default with the built-in task): every answer is 200 and decodes,
// greedy or sampled, never "token id .. is outside its vocabulary" (500).
TEST_F(ServeClientsTest, LargerModelVocabularyNeverAnswers5xx) {
  GPTConfig cfg = testing::tiny_serving_config();
  cfg.vocab_size = 64;
  LoopbackClient client = start_with(cfg, 5);
  for (int seed = 0; seed < 24; ++seed) {
    const std::string body =
        seed % 3 == 0 ? R"({"prompt": "Q: 1+2=", "max_tokens": 24})"
                      : fmt::format(R"({{"prompt": "Q: 1+2=", "max_tokens": 24, "temperature": {}, "seed": {}}})",
                                    0.5 * (seed % 3), seed);
    auto [status, reply] = call(client, "POST", "/generate", body);
    EXPECT_EQ(status, 200) << body << " -> " << reply.dump();
  }
}

}  // namespace
}  // namespace pouch
