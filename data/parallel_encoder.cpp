#include "data/parallel_encoder.h"

#include <atomic>
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
  // Threads take the next document as they finish one (documents differ in
  // cost per byte: cached English words vs rare scripts), so none idles while
  // another has a long tail. Which encoder takes a document does not change
  // its ids.
  std::atomic<std::size_t> next{0};
  std::vector<std::exception_ptr> errors(n);
  auto work = [&](std::size_t r) {
    // Encode into a vector of this thread's own and store it once: the
    // headers of out[i] and out[i+1] share a cache line, and two threads
    // appending to them token by token would fight over it.
    std::vector<std::int32_t> ids;
    for (std::size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) {
      ids.clear();
      try {
        encoders_[r]->encode_append(texts[i], ids);
      } catch (...) {
        errors[i] = std::current_exception();
      }
      out[i].assign(ids.begin(), ids.end());
    }
  };
  const std::size_t runs = std::min(encoders_.size(), std::max<std::size_t>(n, 1));
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
