// Writes the fuzz target's seed corpus with pouch's own writers: a weights
// file and training checkpoints of the tiny model (tiny_state.h), so the
// fuzzer starts from structured HDF5 files rather than from random bytes.
//   make_corpus <dir>
#include <fmt/format.h>

#include <exception>
#include <filesystem>

#include "checkpoint/training_checkpoint.h"
#include "checkpoint/weights_file.h"
#include "tiny_state.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: {} <corpus dir>\n", argv[0]);
    return 2;
  }
  using namespace pouch;
  try {
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);

    NamedTensors params;
    for (auto& t : fuzz::tiny_tensors(0, 1, 1.0f, true)) params.emplace_back(t.name, t.local);
    save_weights((dir / "seed-weights.h5").string(), fuzz::tiny_config(), params,
                 {{"tokenizer", R"({"type":"bytes"})"}, {"config", "[model]\nlayers = 1\n"}});

    write_checkpoint_file((dir / "seed-state.h5").string(), fuzz::tiny_state(3, true), CheckpointGroup::single());
    write_checkpoint_file((dir / "seed-state-weights-only.h5").string(), fuzz::tiny_state(0, false),
                          CheckpointGroup::single());
  } catch (const std::exception& e) {
    fmt::print(stderr, "make_corpus: {}\n", e.what());
    return 1;
  }
  return 0;
}
