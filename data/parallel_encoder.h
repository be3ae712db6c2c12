#pragma once
// Encodes batches of documents on several threads. Each thread keeps its own
// TextEncoder (and so its cache) across batches and takes the next document
// of the batch when it is done with one; out[i] is always the ids of
// texts[i], whatever the thread count.
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "data/tokenizer.h"

namespace pouch {

class ParallelEncoder {
 public:
  // threads >= 1; the tokenizer must outlive this.
  ParallelEncoder(const Tokenizer& tokenizer, int threads);
  ~ParallelEncoder();

  // out[i] = the ids of texts[i]. If encoding texts throws, the error of the
  // first such text is rethrown after all threads finish, and *failed (when
  // given) is its index.
  void encode(std::span<const std::string_view> texts, std::vector<std::vector<std::int32_t>>& out,
              std::size_t* failed = nullptr);
  int threads() const { return static_cast<int>(encoders_.size()); }

 private:
  std::vector<std::unique_ptr<TextEncoder>> encoders_;
};

}  // namespace pouch
