// Writes checkpoints into <dir> in an endless loop (world of one), resuming
// from the newest complete one, for the kill -9 test: it is killed at random
// moments and the directory must stay consistent.
//   crash_writer_driver <dir>
// The state is the fixture's plus one 4 MiB tensor, so a save takes long
// enough for kills to land inside the write, the verify and the publish.
#include <cstdio>
#include <string>

#include "checkpoint/checkpoint_dir.h"
#include "state_fixture.h"

using namespace pouch;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  try {
    auto found = find_latest_complete(dir);
    std::int64_t step = found ? found->step + 1 : 1;
    Tensor big = Tensor::empty({1024, 1024}, DType::F32);
    for (;; ++step) {
      CheckpointState s = testing::fixture_state(0, 0, 1, step);
      for (std::int64_t i = 0; i < big.numel(); ++i) big.f32()[i] = static_cast<float>(step * 7 + i);
      s.model.push_back({"big", {1024, 1024}, ShardSpec::replicated(), big});
      s.optim_m.push_back({"big", {1024, 1024}, ShardSpec::replicated(), big});
      s.optim_v.push_back({"big", {1024, 1024}, ShardSpec::replicated(), big});
      save_checkpoint(dir, s, CheckpointGroup::single(), {.keep_last = 2, .keep_every = 5, .keep_steps = {}});
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crash_writer_driver: %s\n", e.what());
    return 1;
  }
}
