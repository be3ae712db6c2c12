// POST /generate bodies: what parse_generate_request accepts and refuses
// (with which status and message), and the model-dependent checks.
#include <gtest/gtest.h>

#include <string>

#include "serve/generate_request.h"
#include "serve/serving_model.h"
#include "serve_test_util.h"

namespace pouch {
namespace {

constexpr std::size_t kLimit = 4096;

// The status and message a body is refused with (status 0: accepted).
std::pair<int, std::string> refusal(const std::string& body, std::size_t limit = kLimit) {
  try {
    parse_generate_request(body, limit);
    return {0, ""};
  } catch (const RequestError& e) {
    return {e.status(), e.what()};
  }
}

void expect_400(const std::string& body, const std::string& mentions) {
  const auto [status, message] = refusal(body);
  EXPECT_EQ(status, 400) << body;
  EXPECT_NE(message.find(mentions), std::string::npos) << body << " -> " << message;
}

TEST(GenerateRequest, AcceptsAFullRequest) {
  const GenerateRequest r = parse_generate_request(
      R"({"prompt": "Q: 3+4=", "max_tokens": 8, "temperature": 0.5, "top_k": 3, "top_p": 0.9, "seed": 18446744073709551615,
          "ignore_eos": true})",
      kLimit);
  EXPECT_EQ(r.prompt, "Q: 3+4=");
  EXPECT_EQ(r.max_tokens, 8);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.5f);
  EXPECT_EQ(r.sampling.top_k, 3);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.9f);
  ASSERT_TRUE(r.seed);
  EXPECT_EQ(*r.seed, 18446744073709551615ull);
  EXPECT_TRUE(r.ignore_eos);
}

TEST(GenerateRequest, Defaults) {
  const GenerateRequest r = parse_generate_request(R"({"prompt": "Q", "max_tokens": 1})", kLimit);
  EXPECT_EQ(r.sampling.temperature, 0.0f);  // greedy
  EXPECT_EQ(r.sampling.top_k, 0);
  EXPECT_EQ(r.sampling.top_p, 1.0f);
  EXPECT_FALSE(r.seed);
  EXPECT_FALSE(r.ignore_eos);  // stop at the end-of-text token
  // An integer temperature is a number too.
  EXPECT_EQ(
      parse_generate_request(R"({"prompt": "Q", "max_tokens": 1, "temperature": 1})", kLimit).sampling.temperature,
      1.0f);
}

TEST(GenerateRequest, BadJson) {
  expect_400("", "not valid JSON");
  expect_400("{\"prompt\": \"Q\", ", "not valid JSON");
  expect_400("prompt=Q", "not valid JSON");
  expect_400(R"(["Q", 4])", "must be a JSON object, not array");
  expect_400("17", "must be a JSON object, not number");
}

TEST(GenerateRequest, Oversize) {
  const std::string body = R"({"prompt": ")" + std::string(200, 'Q') + R"(", "max_tokens": 1})";
  EXPECT_EQ(refusal(body, body.size()).first, 0);
  const auto [status, message] = refusal(body, body.size() - 1);
  EXPECT_EQ(status, 413);
  EXPECT_NE(message.find("--max-body-bytes"), std::string::npos) << message;
}

TEST(GenerateRequest, MissingAndWrongTypedFields) {
  expect_400(R"({"max_tokens": 4})", "\"prompt\"");
  expect_400(R"({"prompt": 5, "max_tokens": 4})", "\"prompt\" must be a string, not number");
  expect_400(R"({"prompt": null, "max_tokens": 4})", "\"prompt\" must be a string, not null");
  expect_400(R"({"prompt": "Q", "max_tokens": "4"})", "\"max_tokens\" must be an integer, not string");
  expect_400(R"({"prompt": "Q", "max_tokens": 4.5})", "\"max_tokens\" must be an integer");
  expect_400(R"({"prompt": "Q", "max_tokens": 4, "temperature": "hot"})", "\"temperature\" must be a number");
  expect_400(R"({"prompt": "Q", "max_tokens": 4, "top_p": true})", "\"top_p\" must be a number");
  expect_400(R"({"prompt": "Q", "max_tokens": 4, "top_k": 1.5})", "\"top_k\" must be an integer");
  expect_400(R"({"prompt": "Q", "max_tokens": 4, "seed": -1})", "\"seed\"");
  expect_400(R"({"prompt": "Q", "max_tokens": 4, "seed": 1.5})", "\"seed\"");
  expect_400(R"({"prompt": "Q", "ignore_eos": 1})", "\"ignore_eos\" must be true or false, not number");
  expect_400(R"({"prompt": "Q", "ignore_eos": "yes"})", "\"ignore_eos\" must be true or false, not string");
}

TEST(GenerateRequest, UnknownFields) {
  expect_400(R"({"prompt": "Q", "max_token": 4})", "unknown field \"max_token\"");
  expect_400(R"({"prompt": "Q", "max_tokens": 4, "stream": true})", "unknown field \"stream\"");
}

TEST(GenerateRequest, Ranges) {
  expect_400(R"({"prompt": "", "max_tokens": 4})", "\"prompt\" is empty");
  expect_400(R"({"prompt": "Q", "max_tokens": 0})", "\"max_tokens\" must be >= 1");
  expect_400(R"({"prompt": "Q", "max_tokens": -3})", "\"max_tokens\" must be >= 1");
  expect_400(R"({"prompt": "Q", "max_tokens": 4, "temperature": -0.1})", "\"temperature\" must be >= 0");
  expect_400(R"({"prompt": "Q", "max_tokens": 4, "top_p": 0})", "\"top_p\" must be in (0, 1]");
  expect_400(R"({"prompt": "Q", "max_tokens": 4, "top_p": 1.01})", "\"top_p\" must be in (0, 1]");
  expect_400(R"({"prompt": "Q", "max_tokens": 4, "top_k": -1})", "\"top_k\" must be an integer >= 0");
  EXPECT_EQ(refusal(R"({"prompt": "Q", "max_tokens": 4, "top_p": 1})").first, 0);
}

class GenerateRequestForModel : public ::testing::Test {
 protected:
  void SetUp() override { model_ = ServingModel::load(testing::publish_tiny(tmp_.file("serve"), 3, 7).path, 3); }
  std::pair<int, std::string> refusal_for(const std::string& body) {
    try {
      encode_generate_prompt(parse_generate_request(body, kLimit), *model_);
      return {0, ""};
    } catch (const RequestError& e) {
      return {e.status(), e.what()};
    }
  }
  testing::TempDir tmp_;
  std::shared_ptr<const ServingModel> model_;
};

TEST_F(GenerateRequestForModel, MaxTokensUpToTheContext) {
  // The tiny model's context (seq_len) is 32.
  EXPECT_EQ(refusal_for(R"({"prompt": "Q", "max_tokens": 32})").first, 0);
  const auto [status, message] = refusal_for(R"({"prompt": "Q", "max_tokens": 33})");
  EXPECT_EQ(status, 400);
  EXPECT_NE(message.find("context of 32"), std::string::npos) << message;
}

TEST_F(GenerateRequestForModel, CharactersOutsideTheTokenizer) {
  const auto [status, message] = refusal_for(R"({"prompt": "Q: what is 3+4?", "max_tokens": 4})");
  EXPECT_EQ(status, 400);
  EXPECT_NE(message.find("'w'"), std::string::npos) << message;
  EXPECT_EQ(refusal_for(R"({"prompt": "Q: 3+4=", "max_tokens": 4})").first, 0);
  const auto encoded =
      encode_generate_prompt(parse_generate_request(R"({"prompt": "Q:", "max_tokens": 4})", kLimit), *model_);
  EXPECT_EQ(encoded.ids, CharTokenizer::reasoning().encode("Q:"));
  EXPECT_EQ(encoded.max_tokens, 4);
}

TEST_F(GenerateRequestForModel, MaxTokensDefaultsToTheRoomLeft) {
  EXPECT_FALSE(parse_generate_request(R"({"prompt": "Q:"})", kLimit).max_tokens);
  // Context 32: a 2-token prompt leaves 30, under kDefaultMaxTokens (64).
  const auto encoded = encode_generate_prompt(parse_generate_request(R"({"prompt": "Q:"})", kLimit), *model_);
  EXPECT_EQ(encoded.max_tokens, std::min<std::int64_t>(kDefaultMaxTokens, 30));
}

TEST_F(GenerateRequestForModel, PromptMustLeaveRoom) {
  const std::string fits = std::string(31, '1'), full = std::string(32, '1');
  EXPECT_EQ(refusal_for(R"({"prompt": ")" + fits + R"(", "max_tokens": 1})").first, 0);
  const auto [status, message] = refusal_for(R"({"prompt": ")" + full + R"(", "max_tokens": 1})");
  EXPECT_EQ(status, 400);
  EXPECT_NE(message.find("32 tokens long"), std::string::npos) << message;
}

}  // namespace
}  // namespace pouch
