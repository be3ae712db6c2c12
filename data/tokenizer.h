#pragma once
// The tokenizer interface. A tokenizer serialises to JSON text (an object
// with a "type" field), so a model file or a prepared data directory can carry
// the exact tokenizer it was trained with; tokenizer_from_serialized() is the
// one factory that reads any of them back.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pouch {

// Encodes texts one after another for one thread; it may keep state between
// calls (a cache of chunk -> ids), so each thread uses its own.
class TextEncoder {
 public:
  virtual ~TextEncoder() = default;
  virtual void encode_append(std::string_view text, std::vector<std::int32_t>& out) = 0;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  virtual std::vector<std::int32_t> encode(std::string_view text) const = 0;
  // An encoder that gives encode()'s ids; it refers to this tokenizer, which
  // must outlive it. The default calls encode().
  virtual std::unique_ptr<TextEncoder> make_encoder() const;
  // An id outside [0, vocab_size()) throws pouch::Error.
  virtual std::string decode(std::span<const std::int32_t> ids) const = 0;
  virtual std::int64_t vocab_size() const = 0;
  // The token that ends a document or sample (generation's stop token).
  virtual std::int32_t eot_id() const = 0;
  // "char", "bpe" or "gpt2".
  virtual std::string name() const = 0;
  // JSON text; tokenizer_from_serialized(serialize()) behaves identically.
  virtual std::string serialize() const = 0;
};

// Where a document's end-of-text token goes in a token stream: before each
// document for GPT-2 (llm.c's data scripts), after it for pouch's own
// tokenizers. `pouch data prepare` and the watched directory both follow it.
inline bool eot_before_documents(const Tokenizer& tokenizer) { return tokenizer.name() == "gpt2"; }

// `what` names the origin (a file, a checkpoint dataset) in error messages.
std::unique_ptr<Tokenizer> tokenizer_from_serialized(const std::string& text,
                                                     const std::string& what = "serialized tokenizer");
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);
// Writes serialize() to `path`.tmp and renames it to `path`.
void save_tokenizer(const Tokenizer& tokenizer, const std::string& path);

}  // namespace pouch
