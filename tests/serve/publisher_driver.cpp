// serve_publisher DIR FIRST COUNT INTERVAL_MS: publishes versions FIRST ..
// FIRST+COUNT-1 of a tiny random model (a new init seed each) to DIR, one
// every INTERVAL_MS, as a training run's continual-learning phase would.
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>

#include "checkpoint/serving_versions.h"
#include "data/char_tokenizer.h"
#include "model/gpt.h"
#include "runtime/backend.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: serve_publisher DIR FIRST COUNT INTERVAL_MS\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::int64_t first = std::stoll(argv[2]), count = std::stoll(argv[3]);
  const auto interval = std::chrono::milliseconds(std::stoll(argv[4]));
  pouch::GPTConfig cfg;
  cfg.layers = 1;
  cfg.d_model = 16;
  cfg.heads = 2;
  cfg.seq_len = 32;
  cfg.vocab_size = 31;
  auto backend = pouch::make_backend(pouch::Device::CPU);
  pouch::GPT model(cfg, *backend);
  const std::string tokenizer = pouch::CharTokenizer::reasoning().serialize();
  try {
    for (std::int64_t v = first; v < first + count; ++v) {
      model.init_weights(static_cast<std::uint64_t>(v));
      pouch::publish_serving_version(dir, v, model.named_values(), cfg, tokenizer, "");
      std::this_thread::sleep_for(interval);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "serve_publisher: %s\n", e.what());
    return 1;
  }
  return 0;
}
