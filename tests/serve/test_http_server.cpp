// The HTTP server in process, on an ephemeral loopback port: waiting for a
// first model, picking up published versions, the answers and the error
// paths, and surviving a damaged version.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "model/generator.h"
#include "serve_test_util.h"

namespace pouch {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::eventually;
using testing::publish_tiny;
using testing::RunningServer;
using testing::TempDir;
using testing::write_text;

constexpr std::size_t kBodyLimit = 1024;

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest()
      : dir_(serving_dir(tmp_.file("run"))),
        watcher_(dir_, slot_, 20ms),
        server_(slot_, ServeOptions{.max_queue = 8, .max_body_bytes = kBodyLimit, .source = dir_}),
        client_("127.0.0.1", server_.port()) {
    client_.set_read_timeout(30, 0);
  }

  // {status, parsed body}; the body of every answer must be JSON.
  std::pair<int, json> get(const std::string& path) { return parse(client_.Get(path.c_str())); }
  std::pair<int, json> post(const std::string& path, const std::string& body) {
    return parse(client_.Post(path.c_str(), body, "application/json"));
  }
  std::pair<int, json> parse(const httplib::Result& res) {
    if (!res) {
      ADD_FAILURE() << "no response: " << httplib::to_string(res.error());
      return {0, json()};
    }
    json body = json::parse(res->body, nullptr, false);
    EXPECT_FALSE(body.is_discarded()) << "not JSON: " << res->body;
    return {res->status, body};
  }
  std::int64_t health_version() {
    auto [status, body] = get("/health");
    return body["version"].is_number() ? body["version"].get<std::int64_t>() : -1;
  }

  TempDir tmp_;
  std::string dir_;
  ModelSlot slot_;
  ModelWatcher watcher_;  // driven by poll_once() unless a test start()s it
  RunningServer server_;
  httplib::Client client_;
};

TEST_F(HttpServerTest, WaitsThenServesWhatIsPublished) {
  auto [status, health] = get("/health");
  EXPECT_EQ(status, 200);
  EXPECT_EQ(health["status"], "waiting");
  EXPECT_TRUE(health["version"].is_null());
  EXPECT_EQ(health["watching"], dir_);

  auto [gen_status, gen] = post("/generate", R"({"prompt": "Q: 3+4=", "max_tokens": 8})");
  EXPECT_EQ(gen_status, 503);
  const std::string error = gen["error"];
  EXPECT_NE(error.find(dir_), std::string::npos) << error;
  EXPECT_NE(error.find("publish"), std::string::npos) << error;

  // The watcher's thread: the version appears within a few 20 ms polls.
  watcher_.start();
  publish_tiny(dir_, 1, 42);
  EXPECT_TRUE(eventually([&] { return health_version() == 1; }, 5s));
  auto [ok_status, ok] = get("/health");
  EXPECT_EQ(ok["status"], "ok");
  EXPECT_EQ(ok["model"], dir_ + "/v-000001.h5");
  watcher_.stop();

  auto [s1, r1] = post("/generate", R"({"prompt": "Q: 3+4=", "max_tokens": 8})");
  ASSERT_EQ(s1, 200) << r1.dump();
  EXPECT_EQ(r1["version"], 1);
  const std::string text = r1["text"];
  EXPECT_EQ(r1["tokens"], static_cast<std::int64_t>(text.size()));  // one character per token
  EXPECT_LE(text.size(), 8u);

  // Greedy answers are the model's own: the same weights (init seed 42)
  // through a Generator here give the same text.
  const GPTConfig cfg = testing::tiny_serving_config();
  auto backend = make_backend(Device::CPU);
  GPT model(cfg, *backend);
  model.init_weights(42);
  Generator generator(model);
  const CharTokenizer tok = CharTokenizer::reasoning();
  GenerateOptions opt;
  opt.max_tokens = 8;
  opt.stop_token = tok.eot_id();
  RngStream rng(0, 0);
  EXPECT_EQ(text, tok.decode(generator.generate(tok.encode("Q: 3+4="), opt, rng)));

  // Sampling with a seed is reproducible.
  const std::string sampled = R"({"prompt": "Q:", "max_tokens": 16, "temperature": 1.5, "seed": 9})";
  EXPECT_EQ(post("/generate", sampled).second["text"], post("/generate", sampled).second["text"]);
}

TEST_F(HttpServerTest, ErrorPaths) {
  publish_tiny(dir_, 1, 1);
  ASSERT_TRUE(watcher_.poll_once());

  auto [s404, b404] = get("/nope");
  EXPECT_EQ(s404, 404);
  EXPECT_NE(b404["error"].get<std::string>().find("/generate"), std::string::npos);
  EXPECT_EQ(post("/v1/generate", "{}").first, 404);

  auto res = client_.Get("/generate");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "POST");
  EXPECT_EQ(post("/health", "{}").first, 405);
  EXPECT_EQ(parse(client_.Delete("/generate")).first, 405);

  auto [s400, b400] = post("/generate", "{not json");
  EXPECT_EQ(s400, 400);
  EXPECT_NE(b400["error"].get<std::string>().find("JSON"), std::string::npos);
  EXPECT_EQ(post("/generate", R"({"prompt": "Q", "max_tokens": 2, "colour": 1})").first, 400);
  auto [s_chars, b_chars] = post("/generate", R"({"prompt": "hello world", "max_tokens": 2})");
  EXPECT_EQ(s_chars, 400);
  EXPECT_NE(b_chars["error"].get<std::string>().find("tokenizer"), std::string::npos);
  EXPECT_EQ(post("/generate", R"({"prompt": "Q", "max_tokens": 33})").first, 400);  // context 32

  // Over --max-body-bytes: refused from its Content-Length, before the body is read.
  const std::string big = R"({"prompt": ")" + std::string(2 * kBodyLimit, '1') + R"(", "max_tokens": 1})";
  auto [s413, b413] = post("/generate", big);
  EXPECT_EQ(s413, 413);
  EXPECT_NE(b413["error"].get<std::string>().find("1024 bytes"), std::string::npos) << b413.dump();

  // The server still answers after all of that.
  EXPECT_EQ(post("/generate", R"({"prompt": "Q", "max_tokens": 2})").first, 200);
}

// --watch on a run with model.h5 and no published version serves model.h5
// as version 0, until the run publishes version 1.
TEST(ModelWatcherFallback, ServesModelH5UntilAVersionIsPublished) {
  TempDir tmp;
  const std::string run = tmp.file("run"), serve = serving_dir(run);
  // A weights file with its tokenizer, moved to where pouch train leaves it.
  const ServingVersion written = publish_tiny(tmp.file("scratch"), 1, 5);
  std::filesystem::create_directories(run);
  std::filesystem::rename(written.path, run + "/model.h5");
  ModelSlot slot;
  ModelWatcher watcher(serve, slot, 20ms, run + "/model.h5");
  ASSERT_TRUE(watcher.poll_once());
  ASSERT_TRUE(slot.current());
  EXPECT_EQ(slot.current()->version(), 0);
  EXPECT_EQ(slot.current()->path(), run + "/model.h5");
  EXPECT_FALSE(watcher.poll_once());  // loaded once, not every poll
  publish_tiny(serve, 1, 6);
  EXPECT_TRUE(watcher.poll_once());
  EXPECT_EQ(slot.current()->version(), 1);
}

TEST_F(HttpServerTest, DamagedVersionKeepsTheOldModel) {
  publish_tiny(dir_, 1, 1);
  ASSERT_TRUE(watcher_.poll_once());
  // Version 2 is a damaged file that LATEST names (written by hand: the
  // publish protocol would never name it).
  write_text(dir_ + "/v-000002.h5", "not an HDF5 file");
  write_text(dir_ + "/LATEST", "2 v-000002.h5\n");
  EXPECT_FALSE(watcher_.poll_once());
  EXPECT_FALSE(watcher_.poll_once());  // not retried while LATEST names it
  EXPECT_EQ(health_version(), 1);
  auto [s, r] = post("/generate", R"({"prompt": "Q", "max_tokens": 2})");
  EXPECT_EQ(s, 200);
  EXPECT_EQ(r["version"], 1);
  // A malformed LATEST is logged too, and the old model keeps serving.
  write_text(dir_ + "/LATEST", "two v-000002.h5\n");
  EXPECT_FALSE(watcher_.poll_once());
  EXPECT_EQ(health_version(), 1);
  // The next good version is taken.
  write_text(dir_ + "/LATEST", "2 v-000002.h5\n");
  publish_tiny(dir_, 3, 3);
  EXPECT_TRUE(watcher_.poll_once());
  EXPECT_EQ(post("/generate", R"({"prompt": "Q", "max_tokens": 2})").second["version"], 3);
}

}  // namespace
}  // namespace pouch
