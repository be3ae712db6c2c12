#pragma once
// Shared by the serve tests: a tiny random model published as a serving
// version, and an in-process server on an ephemeral loopback port.
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "checkpoint/serving_versions.h"
#include "data/char_tokenizer.h"
#include "model/gpt.h"
#include "runtime/backend.h"
#include "serve/http_server.h"
#include "serve/model_watcher.h"
#include "serve/serving_model.h"
#include "tests/checkpoint/checkpoint_test_util.h"

namespace pouch::testing {

// vocab 31 = the reasoning alphabet; seq_len 32 keeps generation to ~ms.
inline GPTConfig tiny_serving_config() {
  GPTConfig cfg;
  cfg.layers = 1;
  cfg.d_model = 16;
  cfg.heads = 2;
  cfg.seq_len = 32;
  cfg.vocab_size = 31;
  return cfg;
}

// Publishes GPT::init_weights(seed) as `version` of `dir`.
inline ServingVersion publish_tiny(const std::string& dir, std::int64_t version, std::uint64_t seed,
                                   int keep = kDefaultServingKeep) {
  const GPTConfig cfg = tiny_serving_config();
  auto backend = make_backend(Device::CPU);
  GPT model(cfg, *backend);
  model.init_weights(seed);
  return publish_serving_version(dir, version, model.named_values(), cfg, CharTokenizer::reasoning().serialize(), "",
                                 keep);
}

// GPT::init_weights(seed) of `cfg` with the reasoning alphabet's tokenizer,
// in memory (no file), as `version`.
inline std::shared_ptr<const ServingModel> tiny_serving_model(std::int64_t version, std::uint64_t seed,
                                                              const GPTConfig& cfg = tiny_serving_config()) {
  auto backend = make_backend(Device::CPU);
  auto model = std::make_unique<GPT>(cfg, *backend);
  model->init_weights(seed);
  return ServingModel::adopt(std::move(backend), std::move(model),
                             std::make_unique<CharTokenizer>(CharTokenizer::reasoning()), version,
                             "memory:seed-" + std::to_string(seed));
}

// An HttpServer on 127.0.0.1:<free port>, serving on a thread of its own.
class RunningServer {
 public:
  RunningServer(ModelSlot& slot, ServeOptions options) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<HttpServer>(slot, std::move(options));
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~RunningServer() {
    server_->stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
  std::thread thread_;
};

// Polls `ready` every 10 ms for up to `timeout`.
template <typename F>
bool eventually(F ready, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ready();
}

}  // namespace pouch::testing
