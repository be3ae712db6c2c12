// A training checkpoint in a world of one: bitwise round trip, reading at
// other tensor-parallel layouts (resharding), the weights-file view, and
// every kind of damage giving a clear error that names the path and dataset.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "checkpoint/hdf5_file.h"
#include "checkpoint/training_checkpoint.h"
#include "checkpoint/weights_file.h"
#include "checkpoint_test_util.h"
#include "state_fixture.h"

namespace pouch {
namespace {

using testing::TempDir;

std::string write_fixture(const TempDir& dir, std::int64_t step = 7) {
  std::string path = dir.file("state.h5");
  write_checkpoint_file(path, testing::fixture_state(0, 0, 1, step), CheckpointGroup::single());
  return path;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TrainingCheckpoint, RoundTripIsBitwise) {
  TempDir dir;
  std::string path = write_fixture(dir);
  EXPECT_EQ(verify_checkpoint_file(path), 7 * 3 + 3);  // model, m, v per tensor; 2 rng; 1 data
  CheckpointState got = testing::fixture_targets(0, 1);
  read_checkpoint_file(path, got);
  EXPECT_EQ(testing::fixture_mismatch(got), "");
  CheckpointState want = testing::fixture_state(0, 0, 1, 7);
  EXPECT_EQ(got.meta.step, 7);
  EXPECT_EQ(got.meta.tokens_seen, 7 * 1024);
  EXPECT_EQ(got.meta.phase, "pretrain");
  EXPECT_EQ(got.meta.config_ini, want.meta.config_ini);
  EXPECT_EQ(got.meta.pouch_version, POUCH_VERSION);
  EXPECT_EQ(got.meta.format_version, kCheckpointFormatVersion);
  EXPECT_EQ(got.meta.tp, 1);
  EXPECT_EQ(got.meta.world_size, 1);
  EXPECT_EQ(got.optim_step, 7);
  EXPECT_EQ(got.rng_per_rank, want.rng_per_rank);
  EXPECT_EQ(got.data_per_rank, want.data_per_rank);
  EXPECT_EQ(got.extra_attrs, want.extra_attrs);
  EXPECT_FALSE(got.model_config.has_value());
}

TEST(TrainingCheckpoint, ReadsAtOtherTensorParallelLayouts) {
  TempDir dir;
  std::string path = write_fixture(dir);
  for (int tp : {2, 4})
    for (int r = 0; r < tp; ++r) {
      CheckpointState got = testing::fixture_targets(r, tp);
      read_checkpoint_file(path, got, {.rank = 0, .verify = false});
      EXPECT_EQ(testing::fixture_mismatch(got), "") << "tp " << tp << " rank " << r;
    }
}

TEST(TrainingCheckpoint, RankBeyondTheWritersWorldGetsNoRngRow) {
  TempDir dir;
  std::string path = write_fixture(dir);
  CheckpointState got = testing::fixture_targets(0, 1);
  got.rng_per_rank["stale"] = {1};
  read_checkpoint_file(path, got, {.rank = 1});
  EXPECT_TRUE(got.rng_per_rank.empty());
  EXPECT_TRUE(got.data_per_rank.empty());
}

TEST(TrainingCheckpoint, ModelGroupLoadsAsAWeightsFile) {
  TempDir dir;
  std::string path = dir.file("state.h5");
  CheckpointState s = testing::fixture_state(0, 0, 1, 3);
  GPTConfig config;
  config.layers = 1;
  config.d_model = 8;
  config.heads = 2;
  config.seq_len = 4;
  config.vocab_size = 10;
  s.model_config = config;
  write_checkpoint_file(path, s, CheckpointGroup::single());
  WeightsFile w = load_weights(path);
  EXPECT_EQ(w.config.vocab_size, 10);
  ASSERT_EQ(w.params.size(), testing::fixture_params().size());
  for (const auto& [name, tensor] : w.params) {
    Tensor want = testing::fixture_full(name, tensor.shape(), 1);
    EXPECT_EQ(std::memcmp(want.raw(), tensor.raw(), static_cast<std::size_t>(want.numel()) * 4), 0) << name;
  }
  CheckpointState got = testing::fixture_targets(0, 1);
  read_checkpoint_file(path, got);
  ASSERT_TRUE(got.model_config.has_value());
  EXPECT_EQ(got.model_config->d_model, 8);
}

// Flips one byte inside the data of /model/fc.weight (found by its unique
// byte pattern) in a copy of the file.
TEST(TrainingCheckpoint, ChecksumNamesTheCorruptDataset) {
  TempDir dir;
  std::string path = write_fixture(dir);
  std::string bytes = testing::read_text(path);
  Tensor fc = testing::fixture_full("fc.weight", {16, 8}, 1);
  std::string pattern(static_cast<const char*>(fc.raw()) + 40 * 4, 16);
  std::size_t at = bytes.find(pattern);
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(bytes.find(pattern, at + 1), std::string::npos);
  bytes[at + 5] ^= 0x10;
  std::string bad = dir.file("flipped.h5");
  testing::write_text(bad, bytes);
  std::string e = error_of([&] { verify_checkpoint_file(bad); });
  EXPECT_NE(e.find("flipped.h5"), std::string::npos) << e;
  EXPECT_NE(e.find("'/model/fc.weight' fails its checksum"), std::string::npos) << e;
  CheckpointState got = testing::fixture_targets(0, 1);
  EXPECT_EQ(error_of([&] { read_checkpoint_file(bad, got); }), e);
  // Without verification the flipped value is what is read: the checksum is the only guard.
  read_checkpoint_file(bad, got, {.verify = false});
  EXPECT_NE(testing::fixture_mismatch(got), "");
}

TEST(TrainingCheckpoint, TruncatedFileIsAClearError) {
  TempDir dir;
  std::string path = write_fixture(dir);
  auto size = std::filesystem::file_size(path);
  for (auto keep : {size / 2, size - 100, std::uintmax_t{100}}) {
    std::string cut = dir.file("cut.h5");
    std::filesystem::copy_file(path, cut, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(cut, keep);
    std::string e = error_of([&] { verify_checkpoint_file(cut); });
    EXPECT_NE(e.find("cut.h5"), std::string::npos) << e;
    EXPECT_NE(e.find("damaged"), std::string::npos) << e;
  }
}

TEST(TrainingCheckpoint, MissingAndGarbageFilesAreClearErrors) {
  TempDir dir;
  std::string e = error_of([&] { verify_checkpoint_file(dir.file("nope.h5")); });
  EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
  testing::write_text(dir.file("garbage.h5"), std::string(5000, 'x'));
  e = error_of([&] { verify_checkpoint_file(dir.file("garbage.h5")); });
  EXPECT_NE(e.find("not an HDF5 file"), std::string::npos) << e;
  // An HDF5 file that is not a checkpoint (a weights file).
  save_weights(dir.file("weights.h5"), GPTConfig{}, {{"w", Tensor::zeros({2})}});
  e = error_of([&] { verify_checkpoint_file(dir.file("weights.h5")); });
  EXPECT_NE(e.find("not a pouch training checkpoint"), std::string::npos) << e;
}

TEST(TrainingCheckpoint, WrongFormatVersionIsRefused) {
  TempDir dir;
  std::string path = write_fixture(dir);
  {
    Hdf5File f = Hdf5File::open_for_update(path);
    f.set_attr_i64("/meta", "format_version", 99);
    f.close();
  }
  CheckpointState got = testing::fixture_targets(0, 1);
  std::string e = error_of([&] { read_checkpoint_file(path, got, {.verify = false}); });
  EXPECT_NE(e.find("format_version is 99"), std::string::npos) << e;
  EXPECT_NE(e.find(path), std::string::npos) << e;
}

TEST(TrainingCheckpoint, ShapeMismatchAndMissingDatasetNameTheDataset) {
  TempDir dir;
  std::string path = write_fixture(dir);
  CheckpointState got = testing::fixture_targets(0, 1);
  got.model[3].full_shape = {32, 8};
  std::string e = error_of([&] { read_checkpoint_file(path, got); });
  EXPECT_NE(e.find("'/model/fc.weight' has shape [16, 8], but the model expects [32, 8]"), std::string::npos) << e;
  got = testing::fixture_targets(0, 1);
  got.model.push_back({"extra.weight", {4}, ShardSpec::replicated(), Tensor()});
  e = error_of([&] { read_checkpoint_file(path, got, {.optim = false}); });
  EXPECT_NE(e.find("'/model/extra.weight' is missing"), std::string::npos) << e;
}

TEST(TrainingCheckpoint, MissingChecksumIsRefused) {
  TempDir dir;
  std::string path = write_fixture(dir);
  std::string e;
  {
    Hdf5File f = Hdf5File::open_for_update(path);
    f.write_dataset("/rng/extra", Tensor::zeros({1, 2}));
    f.close();
  }
  e = error_of([&] { verify_checkpoint_file(path); });
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("'/rng/extra' has no 'xxh64' checksum"), std::string::npos) << e;
}

}  // namespace
}  // namespace pouch
