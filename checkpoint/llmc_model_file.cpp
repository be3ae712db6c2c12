#include "checkpoint/llmc_model_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "checkpoint/atomic_file.h"
#include "checkpoint/gpt_parameter_layout.h"
#include "runtime/precision.h"

namespace pouch {

namespace fs = std::filesystem;

// The format is little-endian and so are the hosts pouch runs on (x86-64,
// aarch64): elements are copied as they lie in memory.
static_assert(std::endian::native == std::endian::little, "llm.c's model file is little-endian");

namespace {

constexpr std::int32_t kLlmcTokenShardMagic = 20240520;  // llm.c's data shards, a common mix-up
constexpr std::int64_t kChunk = 1 << 20;                 // elements per bf16 conversion buffer

// One of llm.c's per-layer tensors: its name there, the pouch parameter of
// block l it holds (blocks.l.<pouch>), one layer's shape in units of C
// (cols 0 = a vector).
struct PerLayer {
  const char* llmc;
  const char* pouch;
  int rows, cols;
};
// In llm.c's file order, which is also the order of a block's parameters in pouch.
constexpr std::array<PerLayer, 12> kPerLayer{{{"ln1w", "ln1.weight", 1, 0},
                                              {"ln1b", "ln1.bias", 1, 0},
                                              {"qkvw", "attn.qkv.weight", 3, 1},
                                              {"qkvb", "attn.qkv.bias", 3, 0},
                                              {"attprojw", "attn.proj.weight", 1, 1},
                                              {"attprojb", "attn.proj.bias", 1, 0},
                                              {"ln2w", "ln2.weight", 1, 0},
                                              {"ln2b", "ln2.bias", 1, 0},
                                              {"fcw", "mlp.fc.weight", 4, 1},
                                              {"fcb", "mlp.fc.bias", 4, 0},
                                              {"fcprojw", "mlp.proj.weight", 1, 4},
                                              {"fcprojb", "mlp.proj.bias", 1, 0}}};

// A contiguous run of the file: llm.c's tensor (or layer l of it) and the
// pouch parameter it is. `index` is the parameter's place in pouch's order
// (wte, wpe, block 0 ... block L-1, lnf), which GPT declares them in.
struct Slot {
  std::string llmc, pouch;
  Shape shape;
  std::size_t index;
};

// The file's runs in file order. wte's slot is its V real rows; Vp - V
// padding rows follow it in the file.
std::vector<Slot> file_slots(std::int64_t L, std::int64_t C, std::int64_t T, std::int64_t V) {
  std::vector<Slot> slots;
  slots.push_back({"wte", "wte", {V, C}, 0});
  slots.push_back({"wpe", "wpe", {T, C}, 1});
  for (std::size_t k = 0; k < kPerLayer.size(); ++k) {
    const PerLayer& p = kPerLayer[k];
    for (std::int64_t l = 0; l < L; ++l) {
      Shape shape = p.cols == 0 ? Shape{p.rows * C} : Shape{p.rows * C, p.cols * C};
      slots.push_back({fmt::format("{}[{}]", p.llmc, l), fmt::format("blocks.{}.{}", l, p.pouch), std::move(shape),
                       2 + static_cast<std::size_t>(l) * kPerLayer.size() + k});
    }
  }
  const std::size_t last = 2 + static_cast<std::size_t>(L) * kPerLayer.size();
  slots.push_back({"lnfw", "lnf.weight", {C}, last});
  slots.push_back({"lnfb", "lnf.bias", {C}, last + 1});
  return slots;
}

std::int64_t element_bytes(LlmcVersion v) { return v == LlmcVersion::BF16 ? 2 : 4; }
const char* element_name(LlmcVersion v) { return v == LlmcVersion::BF16 ? "bf16" : "fp32"; }

// a * b + c, or false on 64-bit overflow.
bool mul_add(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t* out) {
  std::uint64_t ab;
  return !__builtin_mul_overflow(a, b, &ab) && !__builtin_add_overflow(ab, c, out);
}

// Elements the header implies; false when they overflow 64 bits (a damaged
// header: no file is that large).
bool header_elements(const LlmcHeader& h, std::uint64_t* n) {
  const auto C = static_cast<std::uint64_t>(h.channels);
  std::uint64_t per_layer = 0, total = 2 * C;  // lnfw, lnfb
  return mul_add(12 * C, C, 13 * C, &per_layer) &&
         mul_add(static_cast<std::uint64_t>(h.num_layers), per_layer, total, &total) &&
         mul_add(static_cast<std::uint64_t>(h.padded_vocab_size), C, total, &total) &&
         mul_add(static_cast<std::uint64_t>(h.max_seq_len), C, total, n);
}

std::string dims_str(const LlmcHeader& h) {
  return fmt::format("maxT={} V={} L={} NH={} C={} Vp={}", h.max_seq_len, h.vocab_size, h.num_layers, h.num_heads,
                     h.channels, h.padded_vocab_size);
}

void read_elements(std::ifstream& in, LlmcVersion v, float* dst, std::int64_t n, std::vector<std::uint16_t>& buf,
                   const std::string& path, const std::string& what) {
  auto check = [&] {
    if (!in)
      fail("{}: reading {} failed ({}): the file changed while it was read, or the disk failed", path, what,
           std::strerror(errno));
  };
  if (v == LlmcVersion::FP32) {
    in.read(reinterpret_cast<char*>(dst), static_cast<std::streamsize>(n * 4));
    check();
    return;
  }
  for (std::int64_t done = 0; done < n; done += kChunk) {
    const std::int64_t m = std::min(kChunk, n - done);
    buf.resize(static_cast<std::size_t>(m));
    in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(m * 2));
    check();
    widen(Precision::BF16, buf.data(), dst + done, m);
  }
}

void write_elements(std::ofstream& out, LlmcVersion v, const float* src, std::int64_t n,
                    std::vector<std::uint16_t>& buf) {
  if (v == LlmcVersion::FP32) {
    out.write(reinterpret_cast<const char*>(src), static_cast<std::streamsize>(n * 4));
    return;
  }
  for (std::int64_t done = 0; done < n; done += kChunk) {
    const std::int64_t m = std::min(kChunk, n - done);
    buf.resize(static_cast<std::size_t>(m));
    narrow(Precision::BF16, src + done, buf.data(), m);
    out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(m * 2));
  }
}

}  // namespace

std::int64_t llmc_padded_vocab(std::int64_t vocab_size) {
  return (vocab_size + kLlmcVocabMultiple - 1) / kLlmcVocabMultiple * kLlmcVocabMultiple;
}

bool is_llmc_model_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::int32_t magic = 0;
  in.read(reinterpret_cast<char*>(&magic), sizeof magic);
  return in && magic == kLlmcModelMagic;
}

LlmcHeader read_llmc_header(const std::string& path) {
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) fail("cannot read the llm.c model file {}: {}", path, ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open the llm.c model file {}: {}", path, std::strerror(errno));
  if (size < static_cast<std::uintmax_t>(kLlmcHeaderBytes))
    fail(
        "{}: {} bytes, shorter than the 1024-byte header of an llm.c model file: the file is truncated or not an "
        "llm.c model",
        path, size);
  std::array<std::int32_t, 256> w{};
  in.read(reinterpret_cast<char*>(w.data()), kLlmcHeaderBytes);
  if (!in) fail("{}: reading the header failed: {}", path, std::strerror(errno));

  if (w[0] != kLlmcModelMagic)
    fail("{}: not an llm.c model file: the header's magic is {} where llm.c writes {}{}", path, w[0], kLlmcModelMagic,
         w[0] == kLlmcTokenShardMagic ? " (20240520 is llm.c's token shard: give it to data.path, not as weights)"
                                      : "; give a model written by llm.c (train_gpt2.py, train_gpt2.cu)");
  if (w[1] != static_cast<std::int32_t>(LlmcVersion::FP32) && w[1] != static_cast<std::int32_t>(LlmcVersion::BF16))
    fail(
        "{}: llm.c model file version {} is not supported: pouch reads version 3 (fp32) and 5 (bf16), what "
        "current llm.c writes; re-export the model with llm.c's train_gpt2.py",
        path, w[1]);
  LlmcHeader h;
  h.version = static_cast<LlmcVersion>(w[1]);
  h.max_seq_len = w[2];
  h.vocab_size = w[3];
  h.num_layers = w[4];
  h.num_heads = w[5];
  h.channels = w[6];
  h.padded_vocab_size = w[7];
  if (h.max_seq_len <= 0 || h.vocab_size <= 0 || h.num_layers <= 0 || h.num_heads <= 0 || h.channels <= 0 ||
      h.padded_vocab_size <= 0)
    fail("{}: the header's dimensions must be positive, got {}: the header is damaged", path, dims_str(h));
  if (h.padded_vocab_size < h.vocab_size)
    fail("{}: padded_vocab_size {} is smaller than vocab_size {}: the header is damaged", path, h.padded_vocab_size,
         h.vocab_size);
  if (h.channels % h.num_heads != 0)
    fail("{}: channels {} is not a multiple of num_heads {}: the header is damaged", path, h.channels, h.num_heads);

  const auto bytes = static_cast<std::uint64_t>(element_bytes(h.version));
  std::uint64_t elements = 0, want = 0;
  const bool representable = header_elements(h, &elements) && mul_add(elements, bytes, kLlmcHeaderBytes, &want);
  if (!representable || size < want)
    fail(
        "{}: the file is {} bytes, but its header (version {}, {}, {}) needs {} (the 1024-byte header and {} "
        "parameters of {} bytes): the file is truncated; copy it again",
        path, size, w[1], element_name(h.version), dims_str(h),
        representable ? std::to_string(want) : std::string("more than 2^64"),
        representable ? std::to_string(elements) : std::string("too many"), bytes);
  if (size > want)
    fail(
        "{}: the file is {} bytes, {} more than its header (version {}, {}, {}) describes: it is not a model file "
        "llm.c wrote, or its header is damaged",
        path, size, size - want, w[1], element_name(h.version), dims_str(h));
  return h;
}

WeightsFile read_llmc_model(const std::string& path) {
  const LlmcHeader h = read_llmc_header(path);
  const std::int64_t L = h.num_layers, C = h.channels, T = h.max_seq_len, V = h.vocab_size;
  WeightsFile out;
  out.config.layers = L;
  out.config.d_model = C;
  out.config.heads = h.num_heads;
  out.config.seq_len = T;
  out.config.vocab_size = V;
  out.config.ln_eps = kLlmcLnEps;

  const std::vector<Slot> slots = file_slots(L, C, T, V);
  out.params.resize(slots.size());
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open the llm.c model file {}: {}", path, std::strerror(errno));
  in.seekg(kLlmcHeaderBytes);
  std::vector<std::uint16_t> buf;
  for (const Slot& s : slots) {
    Tensor t = Tensor::empty(s.shape);
    read_elements(in, h.version, t.f32(), t.numel(), buf, path, s.llmc);
    out.params[s.index] = {s.pouch, std::move(t)};
    if (s.pouch != "wte") continue;
    // wte's padding rows: zero in every file llm.c writes (train_gpt2.py pads
    // with zeros, its C init leaves them zero, and they get no gradient).
    std::vector<float> row(static_cast<std::size_t>(C));
    for (std::int64_t r = V; r < h.padded_vocab_size; ++r) {
      read_elements(in, h.version, row.data(), C, buf, path, fmt::format("wte padding row {}", r));
      if (std::any_of(row.begin(), row.end(), [](float x) { return x != 0.0f; }))
        fail(
            "{}: wte row {} is vocabulary padding (rows {}..{} beyond vocab_size {}) but is not zero; pouch keeps "
            "no padding rows and will not drop weights: zero those rows (llm.c never reads them), or write the "
            "file with vocab_size {} so that every row is a token",
            path, r, V, h.padded_vocab_size - 1, V, h.padded_vocab_size);
    }
  }
  return out;
}

void write_llmc_model(const std::string& path, const GPTConfig& config, const NamedTensors& params,
                      LlmcVersion version) {
  const std::int64_t L = config.layers, C = config.d_model, T = config.seq_len, V = config.vocab_size;
  const std::int64_t Vp = llmc_padded_vocab(V);
  if (config.ln_eps != kLlmcLnEps)
    fail(
        "{}: the model's LayerNorm eps is {} but llm.c's kernels use 1e-5, so llm.c would compute another model; "
        "export it as safetensors instead",
        path, config.ln_eps);
  for (const auto& [key, value] : {std::pair<const char*, std::int64_t>{"seq_len", T},
                                   {"padded vocab_size", Vp},
                                   {"layers", L},
                                   {"heads", config.heads},
                                   {"d_model", C}})
    if (value <= 0 || value > INT32_MAX)
      fail("{}: the model's {} = {} does not fit llm.c's int32 header", path, key, value);

  const std::vector<Slot> slots = file_slots(L, C, T, V);
  const std::vector<const Tensor*> ordered = match_gpt_parameters(config, params, path);

  std::array<std::int32_t, 256> header{};
  header[0] = kLlmcModelMagic;
  header[1] = static_cast<std::int32_t>(version);
  header[2] = static_cast<std::int32_t>(T);
  header[3] = static_cast<std::int32_t>(V);
  header[4] = static_cast<std::int32_t>(L);
  header[5] = static_cast<std::int32_t>(config.heads);
  header[6] = static_cast<std::int32_t>(C);
  header[7] = static_cast<std::int32_t>(Vp);

  if (const fs::path parent = fs::path(path).parent_path(); !parent.empty()) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) fail("cannot create directory {}: {}", parent.string(), ec.message());
  }
  const std::string tmp = temporary_path(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot create {}: {}", tmp, std::strerror(errno));
    out.write(reinterpret_cast<const char*>(header.data()), kLlmcHeaderBytes);
    std::vector<std::uint16_t> buf;
    const std::vector<float> padding(static_cast<std::size_t>((Vp - V) * C), 0.0f);
    for (const Slot& s : slots) {
      const Tensor& t = *ordered[s.index];
      write_elements(out, version, t.f32(), t.numel(), buf);
      if (s.pouch == "wte") write_elements(out, version, padding.data(), (Vp - V) * C, buf);
    }
    out.flush();
    if (!out) fail("writing {} failed: {}", tmp, std::strerror(errno));
  }
  publish(tmp, path);
}

}  // namespace pouch
