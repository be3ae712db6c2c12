#pragma once
// pouch's GPT parameters by name and full shape, from the config alone (what
// model/gpt.h declares, in its order), for the exporters that rename and
// reorder them: wte [V, C], wpe [T, C], then per block i
//   blocks.i.ln1.weight [C], .bias [C], blocks.i.attn.qkv.weight [3C, C], .bias [3C],
//   blocks.i.attn.proj.weight [C, C], .bias [C], blocks.i.ln2.weight [C], .bias [C],
//   blocks.i.mlp.fc.weight [4C, C], .bias [4C], blocks.i.mlp.proj.weight [C, 4C], .bias [C],
// then lnf.weight [C], lnf.bias [C].
#include <string>
#include <vector>

#include "checkpoint/weights_file.h"

namespace pouch {

struct GptParameter {
  std::string name;
  Shape shape;
};

std::vector<GptParameter> gpt_parameter_layout(const GPTConfig& config);

// `params`' tensors in layout order. Fails, naming `target` (the file being
// written) and the parameter, unless `params` holds exactly the layout's
// parameters, f32, with their shapes: an exporter never drops a weight.
std::vector<const Tensor*> match_gpt_parameters(const GPTConfig& config, const NamedTensors& params,
                                                const std::string& target);

}  // namespace pouch
