// Inputs the loader fuzzer (tests/fuzz/fuzz_checkpoint_load.cpp) broke, rebuilt as
// small files with HDF5's API: each must now be a clear pouch::Error.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "checkpoint/hdf5_file.h"
#include "checkpoint/hdf5_handle.h"
#include "checkpoint/training_checkpoint.h"
#include "checkpoint/weights_file.h"
#include "checkpoint_test_util.h"
#include "state_fixture.h"

namespace pouch {
namespace {

using testing::TempDir;

// A chunked f32 dataset of `rows` x `cols` that is never written: its header
// declares rows*cols*4 bytes, the file stores none of them. `deflate`: through
// the gzip filter, as h5py writes compressed datasets.
void add_unwritten_dataset(const std::string& path, const std::string& name, hsize_t rows, hsize_t cols,
                           bool deflate = false) {
  Hdf5File file = Hdf5File::open_for_update(path);
  hsize_t dims[2] = {rows, cols}, chunk[2] = {1, 1024};
  h5::Handle space = h5::dataspace(H5Screate_simple(2, dims, nullptr));
  h5::Handle dcpl = h5::plist(H5Pcreate(H5P_DATASET_CREATE));
  ASSERT_GE(H5Pset_chunk(dcpl.get(), 2, chunk), 0);
  if (deflate) {
    ASSERT_GE(H5Pset_deflate(dcpl.get(), 9), 0);
  }
  h5::Handle dset = h5::dataset(
      H5Dcreate2(file.id(), name.c_str(), H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
  ASSERT_TRUE(dset.valid());
  // An xxh64 attribute, as every checkpoint dataset has, so that
  // verification goes on to hash the data.
  h5::Handle scalar = h5::dataspace(H5Screate(H5S_SCALAR));
  h5::Handle attr =
      h5::attribute(H5Acreate2(dset.get(), "xxh64", H5T_STD_U64LE, scalar.get(), H5P_DEFAULT, H5P_DEFAULT));
  const std::uint64_t checksum = 0;
  ASSERT_TRUE(attr.valid() && H5Awrite(attr.get(), H5T_NATIVE_UINT64, &checksum) >= 0);
  attr.reset();
  dset.reset();
  file.close();
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not a pouch::Error: ") + e.what();
  }
  return "(no error)";
}

// Fuzzer finding: a 9 KB checkpoint whose dataset header claimed ~11 GB made
// verify_checkpoint_file allocate the whole declared size before reading
// (an out-of-memory abort, or a multi-terabyte allocation for larger claims).
TEST(FuzzRegressions, DatasetDeclaringMoreThanTheFileHoldsIsAnError) {
  TempDir dir;
  std::string path = dir.file("state.h5");
  write_checkpoint_file(path, testing::fixture_state(0, 0, 1, 3), CheckpointGroup::single());
  add_unwritten_dataset(path, "/data/huge", hsize_t{1} << 20, hsize_t{1} << 20);  // declares 4 TiB

  std::string e = error_of([&] { verify_checkpoint_file(path); });
  EXPECT_NE(e.find("/data/huge"), std::string::npos) << e;
  EXPECT_NE(e.find("declares 4398046511104 bytes but the file stores 0"), std::string::npos) << e;
  CheckpointState got = testing::fixture_targets(0, 1);
  ReadOptions unverified;
  unverified.verify = false;
  e = error_of([&] { read_checkpoint_file(path, got, unverified); });
  EXPECT_NE(e.find("/data/huge"), std::string::npos) << e;
}

// Fuzzer finding: a damaged header gave a dataset a filter pipeline, and the
// size check, skipped for compressed datasets, let a 22 GB row be allocated
// (libFuzzer's out-of-memory). A filtered dataset must now be stored at no
// more than deflate's 1032:1 ratio.
TEST(FuzzRegressions, CompressedDatasetDeclaringMoreThanItsFilterCanHoldIsAnError) {
  TempDir dir;
  std::string path = dir.file("state.h5");
  write_checkpoint_file(path, testing::fixture_state(0, 0, 1, 3), CheckpointGroup::single());
  add_unwritten_dataset(path, "/data/huge", 2, (hsize_t{22} << 30) / 8, /*deflate=*/true);

  CheckpointState got = testing::fixture_targets(0, 1);
  ReadOptions unverified;
  unverified.verify = false;
  std::string e = error_of([&] { read_checkpoint_file(path, got, unverified); });
  EXPECT_NE(e.find("/data/huge"), std::string::npos) << e;
  EXPECT_NE(e.find("through its 1 HDF5 filter(s), the file stores 0"), std::string::npos) << e;
  e = error_of([&] { verify_checkpoint_file(path); });
  EXPECT_NE(e.find("/data/huge"), std::string::npos) << e;
}

// The bound does not refuse real compressed data: 4 MiB of zeros, deflate's
// best case, reads back.
TEST(FuzzRegressions, CompressedDatasetAtDeflatesBestRatioReads) {
  TempDir dir;
  std::string path = dir.file("zeros.h5");
  {
    Hdf5File file = Hdf5File::create(path);
    hsize_t dims[2] = {1024, 1024}, chunk[2] = {1024, 1024};
    h5::Handle space = h5::dataspace(H5Screate_simple(2, dims, nullptr));
    h5::Handle dcpl = h5::plist(H5Pcreate(H5P_DATASET_CREATE));
    ASSERT_GE(H5Pset_chunk(dcpl.get(), 2, chunk), 0);
    ASSERT_GE(H5Pset_deflate(dcpl.get(), 9), 0);
    h5::Handle dset =
        h5::dataset(H5Dcreate2(file.id(), "/zeros", H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
    ASSERT_TRUE(dset.valid());
    std::vector<float> zeros(1024 * 1024, 0.0f);
    ASSERT_GE(H5Dwrite(dset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data()), 0);
  }
  Hdf5File file = Hdf5File::open(path);
  Tensor t = file.read_dataset("/zeros");
  ASSERT_EQ(t.numel(), 1024 * 1024);
  EXPECT_EQ(t.data<float>()[12345], 0.0f);
}

// A fixed-length string attribute's size is the file's word (up to 4 GiB in
// the datatype message): past 16 MiB it is refused before allocating. A real
// 20 MiB one (dense attribute storage, HDF5's latest format) stands in for a
// damaged size.
TEST(FuzzRegressions, HugeFixedLengthStringAttributeIsAnError) {
  TempDir dir;
  std::string path = dir.file("attr.h5");
  {
    h5::Handle fapl = h5::plist(H5Pcreate(H5P_FILE_ACCESS));
    ASSERT_GE(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST), 0);
    Hdf5File file = Hdf5File::create_with_access(path, fapl.get());
    file.create_group("/meta");
    h5::Handle type = h5::datatype(H5Tcopy(H5T_C_S1));
    const std::size_t size = std::size_t{20} << 20;
    ASSERT_GE(H5Tset_size(type.get(), size), 0);
    h5::Handle scalar = h5::dataspace(H5Screate(H5S_SCALAR));
    h5::Handle group = h5::object(H5Oopen(file.id(), "/meta", H5P_DEFAULT));
    h5::Handle attr = h5::attribute(H5Acreate2(group.get(), "big", type.get(), scalar.get(), H5P_DEFAULT, H5P_DEFAULT));
    ASSERT_TRUE(attr.valid());
    std::string text(size, 'x');
    ASSERT_GE(H5Awrite(attr.get(), type.get(), text.data()), 0);
  }
  Hdf5File file = Hdf5File::open(path);
  const std::string e = error_of([&] { (void)file.get_attr_str("/meta", "big"); });
  EXPECT_NE(e.find("declares a string of 20971520 bytes"), std::string::npos) << e;
}

// A group linking to itself (a hard link to an ancestor) made the checkpoint
// walk recurse until the stack overflowed.
TEST(FuzzRegressions, GroupLinkingToItselfIsAnError) {
  TempDir dir;
  std::string path = dir.file("state.h5");
  write_checkpoint_file(path, testing::fixture_state(0, 0, 1, 3), CheckpointGroup::single());
  {
    Hdf5File file = Hdf5File::open_for_update(path);
    ASSERT_GE(H5Lcreate_hard(file.id(), "/data", file.id(), "/data/loop", H5P_DEFAULT, H5P_DEFAULT), 0);
  }
  const std::string e = error_of([&] { verify_checkpoint_file(path); });
  EXPECT_NE(e.find("nest deeper"), std::string::npos) << e;
  EXPECT_NE(e.find(path), std::string::npos) << e;
}

TEST(FuzzRegressions, WeightsDatasetDeclaringMoreThanTheFileHoldsIsAnError) {
  TempDir dir;
  std::string path = dir.file("weights.h5");
  GPTConfig cfg;
  cfg.layers = 1;
  cfg.d_model = 4;
  cfg.heads = 2;
  cfg.seq_len = 4;
  cfg.vocab_size = 5;
  Tensor w = Tensor::empty({5, 4}, DType::F32);
  w.fill_(0.5f);
  save_weights(path, cfg, {{"wte", w}});
  add_unwritten_dataset(path, "/model/huge", hsize_t{1} << 30, hsize_t{1} << 30);  // declares 4 EiB

  std::string e = error_of([&] { load_weights(path); });
  EXPECT_NE(e.find("/model/huge"), std::string::npos) << e;
  EXPECT_NE(e.find("the file is damaged"), std::string::npos) << e;
}

// Fuzzer finding: a variable-length string attribute whose datatype message
// carries a reserved character set (a damaged byte) made get_attr_str fail a
// POUCH_CHECK and abort the process (load_weights, read_checkpoint_file).
TEST(FuzzRegressions, StringAttributeWithDamagedCharacterSetIsAnError) {
  TempDir dir;
  std::string path = dir.file("weights.h5");
  GPTConfig cfg;
  cfg.layers = 1;
  cfg.d_model = 4;
  cfg.heads = 2;
  cfg.seq_len = 4;
  cfg.vocab_size = 5;
  Tensor w = Tensor::empty({5, 4}, DType::F32);
  w.fill_(0.5f);
  save_weights(path, cfg, {{"wte", w}}, {{"cset_probe", "text"}});

  // The attribute message holds the name, then the datatype: a variable-length
  // string is version 1, class 9 (byte 0x19), then class bits whose second
  // byte's low nibble is the character set (1 = UTF-8). Make it reserved (5).
  std::string bytes = testing::read_text(path);
  std::size_t name = bytes.find("cset_probe");
  ASSERT_NE(name, std::string::npos);
  std::size_t type = bytes.find('\x19', name);
  ASSERT_NE(type, std::string::npos);
  ASSERT_EQ(bytes[type + 2] & 0x0f, 1) << "not the UTF-8 string type";
  bytes[type + 2] = static_cast<char>((bytes[type + 2] & 0xf0) | 5);
  testing::write_text(path, bytes);

  std::string e = error_of([&] { load_weights(path); });
  EXPECT_NE(e.find("cset_probe"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown character set"), std::string::npos) << e;
}

}  // namespace
}  // namespace pouch
