// Phase state in a training checkpoint: /phase tensors (nested names, full
// logical shape, resharded on read like /model) and per-rank f64 rows
// (/data_f64), in a world of one; their checksums; and that files without
// them, or readers that list none, behave as before.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <functional>
#include <limits>

#include "checkpoint/hdf5_file.h"
#include "checkpoint/training_checkpoint.h"
#include "checkpoint_test_util.h"
#include "state_fixture.h"

namespace pouch {
namespace {

using testing::FixtureParam;
using testing::TempDir;

constexpr int kPhaseSalt = 5;

// A PPO-like phase: a reference model's embedding (vocab-padded rows), a
// value head (replicated), a LoRA factor (columns), its AdamW moment (rows,
// 3 sections) and an EWC Fisher diagonal.
const std::vector<FixtureParam>& phase_params() {
  static const std::vector<FixtureParam> p{
      {"ppo/ref/wte", {10, 8}, ShardSpec::Kind::Rows, 1},
      {"ppo/value_head.weight", {1, 8}, ShardSpec::Kind::Replicated, 1},
      {"lora/blocks.0/qkv/A", {8, 16}, ShardSpec::Kind::Columns, 1},
      {"lora/blocks.0/qkv/A.adam/m", {24, 4}, ShardSpec::Kind::Rows, 3},
      {"ewc_fisher", {8}, ShardSpec::Kind::Replicated, 1},
  };
  return p;
}

std::vector<ShardedTensor> phase_tensors(int tp_rank, int tp, bool fill) {
  std::vector<ShardedTensor> out;
  for (const auto& p : phase_params()) {
    ShardedTensor t{p.name, p.full, testing::fixture_spec(p, tp_rank, tp), Tensor()};
    if (fill) {
      t.local = Tensor::empty(shard_shape(t.shard, t.full_shape), DType::F32);
      copy_full_to_shard(t.shard, testing::fixture_full(p.name, p.full, kPhaseSalt), t.local);
    }
    out.push_back(std::move(t));
  }
  return out;
}

// "" when every phase tensor holds its expected shard.
std::string phase_mismatch(const std::vector<ShardedTensor>& got) {
  for (const auto& t : got) {
    Tensor want = Tensor::empty(shard_shape(t.shard, t.full_shape), DType::F32);
    copy_full_to_shard(t.shard, testing::fixture_full(t.name, t.full_shape, kPhaseSalt), want);
    if (!t.local.defined() || t.local.shape() != want.shape()) return t.name + ": shape";
    if (std::memcmp(t.local.raw(), want.raw(), want.nbytes()) != 0) return t.name + ": values";
  }
  return "";
}

std::map<std::string, std::vector<double>> f64_rows() {
  return {{"loss_scale", {65536.0, 3.0, 1234567.0}},
          {"kl_coef", {0.1, -0.0, std::numeric_limits<double>::denorm_min(), 1.0e300, 0.12345678901234567}},
          {"empty", {}}};
}

bool same_bits(const std::map<std::string, std::vector<double>>& a,
               const std::map<std::string, std::vector<double>>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end() || it->second.size() != v.size()) return false;
    for (std::size_t i = 0; i < v.size(); ++i)
      if (std::bit_cast<std::uint64_t>(v[i]) != std::bit_cast<std::uint64_t>(it->second[i])) return false;
  }
  return true;
}

std::string write_phase_fixture(const TempDir& dir) {
  std::string path = dir.file("state.h5");
  CheckpointState s = testing::fixture_state(0, 0, 1, 9);
  s.meta.phase = "ppo";
  s.phase = phase_tensors(0, 1, true);
  s.f64_per_rank = f64_rows();
  write_checkpoint_file(path, s, CheckpointGroup::single());
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

TEST(PhaseState, RoundTripIsBitwise) {
  TempDir dir;
  std::string path = write_phase_fixture(dir);
  // The base fixture's 24 datasets, 5 phase tensors, 3 f64 rows.
  EXPECT_EQ(verify_checkpoint_file(path), 24 + 5 + 3);
  CheckpointState got = testing::fixture_targets(0, 1);
  got.phase = phase_tensors(0, 1, false);
  read_checkpoint_file(path, got);
  EXPECT_EQ(testing::fixture_mismatch(got), "");
  EXPECT_EQ(phase_mismatch(got.phase), "");
  EXPECT_TRUE(same_bits(got.f64_per_rank, f64_rows()));
  EXPECT_EQ(got.data_per_rank, testing::fixture_state(0, 0, 1, 9).data_per_rank);  // f64 rows stay out of /data
  EXPECT_EQ(got.meta.phase, "ppo");
}

TEST(PhaseState, ReshardsLikeTheModel) {
  TempDir dir;
  std::string path = write_phase_fixture(dir);
  for (int tp : {2, 4})
    for (int r = 0; r < tp; ++r) {
      CheckpointState got;
      got.phase = phase_tensors(r, tp, false);
      read_checkpoint_file(path, got, {.rank = 0, .verify = false});
      EXPECT_EQ(phase_mismatch(got.phase), "") << "tp " << tp << " rank " << r;
    }
}

TEST(PhaseState, NestedNamesBecomeGroupsAndAreListed) {
  TempDir dir;
  std::string path = write_phase_fixture(dir);
  Hdf5File f = Hdf5File::open(path);
  EXPECT_EQ(f.kind("/phase/ppo/ref"), Hdf5Kind::Group);
  EXPECT_EQ(f.kind("/phase/lora/blocks.0/qkv/A.adam"), Hdf5Kind::Group);
  EXPECT_EQ(f.kind("/phase/ppo/ref/wte"), Hdf5Kind::Dataset);
  EXPECT_EQ(f.dataset_shape("/phase/ppo/ref/wte"), (Shape{10, 8}));  // full shape, not padded
  EXPECT_EQ(f.kind("/data_f64/loss_scale"), Hdf5Kind::Dataset);
  EXPECT_EQ(f.dataset_shape("/data_f64/loss_scale"), (Shape{1, 3}));
  auto listed = list_phase_tensors(f);
  ASSERT_EQ(listed.size(), phase_params().size());
  std::map<std::string, Shape> by_name(listed.begin(), listed.end());
  for (const auto& p : phase_params()) EXPECT_EQ(by_name[p.name], p.full) << p.name;
}

TEST(PhaseState, ReadersThatListNoPhaseTensorsAndFilesWithoutThemWork) {
  TempDir dir;
  // A phase file read by a pretraining reader: /phase is ignored.
  std::string path = write_phase_fixture(dir);
  CheckpointState got = testing::fixture_targets(0, 1);
  read_checkpoint_file(path, got);
  EXPECT_EQ(testing::fixture_mismatch(got), "");
  EXPECT_TRUE(got.phase.empty());
  // A file without phase state (as every file before /phase existed).
  std::string plain = dir.file("plain.h5");
  write_checkpoint_file(plain, testing::fixture_state(0, 0, 1, 3), CheckpointGroup::single());
  EXPECT_TRUE(list_phase_tensors(plain).empty());
  EXPECT_EQ(Hdf5File::open(plain).kind("/phase"), Hdf5Kind::Missing);
  got = testing::fixture_targets(0, 1);
  got.f64_per_rank["stale"] = {1.0};
  read_checkpoint_file(plain, got);
  EXPECT_TRUE(got.f64_per_rank.empty());
  got.phase = phase_tensors(0, 1, false);
  std::string e = error_of([&] { read_checkpoint_file(plain, got); });
  EXPECT_NE(e.find("plain.h5"), std::string::npos) << e;
  EXPECT_NE(e.find("'/phase/ppo/ref/wte' is missing"), std::string::npos) << e;
}

TEST(PhaseState, MissingOrMisshapenPhaseTensorIsNamed) {
  TempDir dir;
  std::string path = write_phase_fixture(dir);
  CheckpointState got;
  got.phase = phase_tensors(0, 1, false);
  got.phase.push_back({"ppo/critic/w", {4, 4}, ShardSpec::replicated(), Tensor()});
  std::string e = error_of([&] { read_checkpoint_file(path, got); });
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("'/phase/ppo/critic/w' is missing"), std::string::npos) << e;
  got.phase = phase_tensors(0, 1, false);
  got.phase[1].full_shape = {2, 8};
  e = error_of([&] { read_checkpoint_file(path, got); });
  EXPECT_NE(e.find("'/phase/ppo/value_head.weight' has shape [1, 8], but the phase expects [2, 8]"), std::string::npos)
      << e;
}

TEST(PhaseState, RankBeyondTheWritersWorldGetsNoF64Row) {
  TempDir dir;
  std::string path = write_phase_fixture(dir);
  CheckpointState got;
  read_checkpoint_file(path, got, {.rank = 1});
  EXPECT_TRUE(got.f64_per_rank.empty());
}

// Flips one byte of `pattern` (which must occur once in the file) and
// expects verification to name `dataset`.
void expect_flip_is_caught(const TempDir& dir, const std::string& path, const std::string& pattern,
                           const std::string& dataset) {
  std::string bytes = testing::read_text(path);
  std::size_t at = bytes.find(pattern);
  ASSERT_NE(at, std::string::npos) << dataset;
  ASSERT_EQ(bytes.find(pattern, at + 1), std::string::npos) << dataset;
  bytes[at + 3] ^= 0x04;
  std::string bad = dir.file("flipped.h5");
  testing::write_text(bad, bytes);
  std::string e = error_of([&] { verify_checkpoint_file(bad); });
  EXPECT_NE(e.find("flipped.h5"), std::string::npos) << e;
  EXPECT_NE(e.find("'" + dataset + "' fails its checksum"), std::string::npos) << e;
}

TEST(PhaseState, VerifyCatchesAFlippedByteInPhaseAndF64Data) {
  TempDir dir;
  std::string path = write_phase_fixture(dir);
  Tensor ref = testing::fixture_full("ppo/ref/wte", {10, 8}, kPhaseSalt);
  expect_flip_is_caught(dir, path, std::string(static_cast<const char*>(ref.raw()) + 30 * 4, 16), "/phase/ppo/ref/wte");
  const double kl = 0.12345678901234567;
  expect_flip_is_caught(dir, path, std::string(reinterpret_cast<const char*>(&kl), sizeof kl), "/data_f64/kl_coef");
}

}  // namespace
}  // namespace pouch
