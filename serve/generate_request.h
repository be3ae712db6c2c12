#pragma once
// The body of POST /generate and its validation. Two stages: the JSON alone
// (parse_generate_request: shape, types, ranges that need no model), then
// against the model snapshot that will answer it (encode_generate_prompt:
// max_tokens against the context, the prompt's characters against the
// tokenizer), since a newer version may have another context or tokenizer.
//
//   {"prompt": "Q: 3+4=",   string, non-empty (required)
//    "max_tokens": 16,      integer in [1, context] (default: kDefaultMaxTokens,
//                           cut to the room the prompt leaves in the context)
//    "temperature": 0.8,    number >= 0; 0 = greedy (default 0)
//    "top_k": 0,            integer >= 0; 0 = all (default 0)
//    "top_p": 0.9,          number in (0, 1] (default 1)
//    "seed": 7,             integer in [0, 2^64) (default: a fresh one per request)
//    "ignore_eos": false}   boolean; true = do not stop at the end-of-text token, so
//                           exactly max_tokens are generated (unless the context
//                           fills first); for benchmarks of fixed-length requests
//
// Any other field is an error, so a misspelt "max_token" is not silently ignored.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/sampling.h"
#include "runtime/error.h"

namespace pouch {

class ServingModel;

// A request the server answers with `status` (4xx/5xx) and {"error": what()}.
class RequestError : public Error {
 public:
  RequestError(int status, const std::string& message) : Error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

// As OpenAI-style completion APIs, a request without max_tokens gets a
// small bounded default rather than "until the context is full".
constexpr std::int64_t kDefaultMaxTokens = 64;

struct GenerateRequest {
  std::string prompt;
  std::optional<std::int64_t> max_tokens;  // nullopt: the default
  SamplingOptions sampling;
  std::optional<std::uint64_t> seed;
  bool ignore_eos = false;
};

// Throws RequestError: 413 when `body` is longer than max_body_bytes, 400 for
// anything else wrong (the message names the field and the allowed values).
GenerateRequest parse_generate_request(std::string_view body, std::size_t max_body_bytes);

struct EncodedPrompt {
  std::vector<std::int32_t> ids;
  std::int64_t max_tokens = 0;  // the request's, or the default for this prompt and model
};

// The prompt's token ids for `model` and the tokens to generate. Throws
// RequestError 400 when max_tokens exceeds the model's context, when the
// prompt holds characters its tokenizer does not know, or when the prompt
// leaves no room to generate.
EncodedPrompt encode_generate_prompt(const GenerateRequest& request, const ServingModel& model);

}  // namespace pouch
