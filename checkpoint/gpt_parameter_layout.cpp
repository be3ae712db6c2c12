#include "checkpoint/gpt_parameter_layout.h"

#include <fmt/format.h>

#include <map>

namespace pouch {

std::vector<GptParameter> gpt_parameter_layout(const GPTConfig& config) {
  const std::int64_t C = config.d_model;
  std::vector<GptParameter> out{{"wte", {config.vocab_size, C}}, {"wpe", {config.seq_len, C}}};
  for (std::int64_t i = 0; i < config.layers; ++i) {
    const std::string b = fmt::format("blocks.{}.", i);
    out.insert(out.end(), {{b + "ln1.weight", {C}},
                           {b + "ln1.bias", {C}},
                           {b + "attn.qkv.weight", {3 * C, C}},
                           {b + "attn.qkv.bias", {3 * C}},
                           {b + "attn.proj.weight", {C, C}},
                           {b + "attn.proj.bias", {C}},
                           {b + "ln2.weight", {C}},
                           {b + "ln2.bias", {C}},
                           {b + "mlp.fc.weight", {4 * C, C}},
                           {b + "mlp.fc.bias", {4 * C}},
                           {b + "mlp.proj.weight", {C, 4 * C}},
                           {b + "mlp.proj.bias", {C}}});
  }
  out.push_back({"lnf.weight", {C}});
  out.push_back({"lnf.bias", {C}});
  return out;
}

std::vector<const Tensor*> match_gpt_parameters(const GPTConfig& config, const NamedTensors& params,
                                                const std::string& target) {
  std::map<std::string, const Tensor*> by_name;
  for (const auto& [name, t] : params) by_name[name] = &t;
  std::vector<const Tensor*> out;
  for (const GptParameter& p : gpt_parameter_layout(config)) {
    auto it = by_name.find(p.name);
    if (it == by_name.end())
      fail("{}: parameter '{}' is missing: the weights are not a complete GPT with layers={} d_model={}", target,
           p.name, config.layers, config.d_model);
    const Tensor& t = *it->second;
    if (t.shape() != p.shape || t.dtype() != DType::F32)
      fail(
          "{}: parameter '{}' is {} {}, but the model config (layers={} d_model={} seq_len={} vocab_size={}) needs "
          "f32 {}",
          target, p.name, dtype_name(t.dtype()), shape_str(t.shape()), config.layers, config.d_model, config.seq_len,
          config.vocab_size, shape_str(p.shape));
    out.push_back(&t);
    by_name.erase(it);
  }
  if (!by_name.empty())
    fail(
        "{}: '{}' is not a parameter of pouch's GPT and has no place in this format; export it as pouch "
        "safetensors (--layout pouch) instead, or merge it into the model first",
        target, by_name.begin()->first);
  return out;
}

}  // namespace pouch
