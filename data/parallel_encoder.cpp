#include "data/parallel_encoder.h"

#include <exception>
#include <thread>

#include "runtime/error.h"

namespace pouch {

ParallelEncoder::ParallelEncoder(const Tokenizer& tokenizer, int threads) {
  POUCH_CHECK(threads >= 1, "threads {}", threads);
  for (int t = 0; t < threads; ++t) encoders_.push_back(tokenizer.make_encoder());
}

ParallelEncoder::~ParallelEncoder() = default;

void ParallelEncoder::encode(std::span<const std::string_view> texts, std::vector<std::vector<std::int32_t>>& out,
                             std::size_t* failed) {
  const std::size_t n = texts.size();
  out.resize(n);
  std::size_t total = 0;
  for (auto t : texts) total += t.size();
  // Run r covers texts [cut[r], cut[r+1]), about total / runs bytes each.
  const std::size_t runs = std::min<std::size_t>(encoders_.size(), std::max<std::size_t>(n, 1));
  std::vector<std::size_t> cut(runs + 1, n);
  cut[0] = 0;
  {
    std::size_t r = 1, bytes = 0;
    for (std::size_t i = 0; i < n && r < runs; ++i) {
      bytes += texts[i].size();
      if (bytes * runs >= total * r) cut[r++] = i + 1;
    }
  }
  std::vector<std::exception_ptr> errors(n);
  auto work = [&](std::size_t r) {
    for (std::size_t i = cut[r]; i < cut[r + 1]; ++i) {
      out[i].clear();
      try {
        encoders_[r]->encode_append(texts[i], out[i]);
      } catch (...) {
        errors[i] = std::current_exception();
        return;
      }
    }
  };
  std::vector<std::thread> workers;
  for (std::size_t r = 1; r < runs; ++r) workers.emplace_back(work, r);
  work(0);
  for (auto& w : workers) w.join();
  for (std::size_t i = 0; i < n; ++i)
    if (errors[i]) {
      if (failed) *failed = i;
      std::rethrow_exception(errors[i]);
    }
}

}  // namespace pouch
