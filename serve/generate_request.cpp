#include "serve/generate_request.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <nlohmann/json.hpp>

#include "serve/serving_model.h"

namespace pouch {

namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& message) { throw RequestError(400, message); }

const char* type_name(const json& v) { return v.type_name(); }

}  // namespace

GenerateRequest parse_generate_request(std::string_view body, std::size_t max_body_bytes) {
  if (body.size() > max_body_bytes)
    throw RequestError(413, fmt::format("the request body has {} bytes, more than the server's limit of {} "
                                        "(pouch serve --max-body-bytes)",
                                        body.size(), max_body_bytes));
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded())
    bad("the request body is not valid JSON; send an object such as "
        "{\"prompt\": \"Q: 3+4=\", \"max_tokens\": 16}");
  if (!doc.is_object()) bad(fmt::format("the request body must be a JSON object, not {}", type_name(doc)));

  static const char* const kFields[] = {"prompt", "max_tokens", "temperature", "top_k", "top_p", "seed", "ignore_eos"};
  for (const auto& [key, value] : doc.items()) {
    if (std::find(std::begin(kFields), std::end(kFields), key) == std::end(kFields))
      bad(fmt::format(
          "unknown field \"{}\"; the fields are prompt, max_tokens, temperature, top_k, top_p, seed, ignore_eos", key));
  }

  GenerateRequest req;
  if (!doc.contains("prompt")) bad("the field \"prompt\" (a non-empty string) is required");
  const json& prompt = doc["prompt"];
  if (!prompt.is_string()) bad(fmt::format("\"prompt\" must be a string, not {}", type_name(prompt)));
  req.prompt = prompt.get<std::string>();
  if (req.prompt.empty()) bad("\"prompt\" is empty; generation continues a non-empty prompt");

  if (doc.contains("max_tokens")) {
    const json& max_tokens = doc["max_tokens"];
    if (!max_tokens.is_number_integer())
      bad(fmt::format("\"max_tokens\" must be an integer, not {}", type_name(max_tokens)));
    if (max_tokens.is_number_unsigned() ? max_tokens.get<std::uint64_t>() > INT64_MAX : false)
      bad("\"max_tokens\" is too large");
    req.max_tokens = max_tokens.get<std::int64_t>();
    if (*req.max_tokens < 1) bad(fmt::format("\"max_tokens\" must be >= 1, not {}", *req.max_tokens));
  }

  if (doc.contains("temperature")) {
    const json& t = doc["temperature"];
    if (!t.is_number()) bad(fmt::format("\"temperature\" must be a number, not {}", type_name(t)));
    const double value = t.get<double>();
    if (!(value >= 0.0) || !std::isfinite(value))
      bad(fmt::format("\"temperature\" must be >= 0 (0 = greedy), not {}", value));
    req.sampling.temperature = static_cast<float>(value);
  }
  if (doc.contains("top_k")) {
    const json& k = doc["top_k"];
    if (!k.is_number_integer()) bad(fmt::format("\"top_k\" must be an integer, not {}", type_name(k)));
    if (k.is_number_unsigned() ? k.get<std::uint64_t>() > INT64_MAX : k.get<std::int64_t>() < 0)
      bad("\"top_k\" must be an integer >= 0 (0 = all tokens)");
    req.sampling.top_k = k.get<std::int64_t>();
  }
  if (doc.contains("top_p")) {
    const json& p = doc["top_p"];
    if (!p.is_number()) bad(fmt::format("\"top_p\" must be a number, not {}", type_name(p)));
    const double value = p.get<double>();
    if (!(value > 0.0 && value <= 1.0)) bad(fmt::format("\"top_p\" must be in (0, 1], not {}", value));
    req.sampling.top_p = static_cast<float>(value);
  }
  if (doc.contains("seed")) {
    const json& s = doc["seed"];
    // nlohmann stores non-negative integer literals as unsigned.
    if (!s.is_number_unsigned()) bad("\"seed\" must be an integer in [0, 2^64)");
    req.seed = s.get<std::uint64_t>();
  }
  if (doc.contains("ignore_eos")) {
    const json& e = doc["ignore_eos"];
    if (!e.is_boolean()) bad(fmt::format("\"ignore_eos\" must be true or false, not {}", type_name(e)));
    req.ignore_eos = e.get<bool>();
  }
  return req;
}

EncodedPrompt encode_generate_prompt(const GenerateRequest& request, const ServingModel& model) {
  const std::int64_t context = model.config().seq_len;
  if (request.max_tokens && *request.max_tokens > context)
    bad(fmt::format("\"max_tokens\" is {}, more than the model's context of {} tokens (version {})",
                    *request.max_tokens, context, model.version()));
  std::vector<std::int32_t> ids;
  try {
    ids = model.tokenizer().encode(request.prompt);
  } catch (const Error& e) {
    bad(fmt::format("the prompt cannot be encoded by the model's {} tokenizer: {}", model.tokenizer().name(),
                    e.what()));
  }
  if (ids.empty()) bad("the prompt encodes to no tokens");
  if (static_cast<std::int64_t>(ids.size()) >= context)
    bad(
        fmt::format("the prompt is {} tokens long, but the model's context is {}: it must leave room for at least "
                    "one new token",
                    ids.size(), context));
  const std::int64_t room = context - static_cast<std::int64_t>(ids.size());
  return EncodedPrompt{std::move(ids), request.max_tokens ? *request.max_tokens : std::min(kDefaultMaxTokens, room)};
}

}  // namespace pouch
