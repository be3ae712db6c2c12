// libFuzzer target: the HDF5 loading paths of checkpoint/ on arbitrary bytes.
// Each input is taken as a whole HDF5 file, held in memory
// (Hdf5File::open_image, HDF5's core driver: no disk I/O), and given to every
// reader a user can point at a file: the weights loader, the config reader,
// checksum verification, and the checkpoint reader with and without
// verification (a mutated file nearly always fails its checksums first, so
// without it the mutations reach the metadata and hyperslab reads behind).
//
// Contract under test: a damaged file is a pouch::Error (or, for a file that
// declares more data than memory holds, std::bad_alloc); never a crash, an
// abort from POUCH_CHECK, undefined behaviour, a leak or a hang.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>

#include "checkpoint/hdf5_file.h"
#include "checkpoint/training_checkpoint.h"
#include "checkpoint/weights_file.h"
#include "runtime/error.h"
#include "tiny_state.h"

namespace {

template <typename Fn>
void expect_clean(Fn&& fn) {
  try {
    fn();
  } catch (const pouch::Error&) {
  } catch (const std::bad_alloc&) {
  }
  // Anything else escapes: libFuzzer reports an uncaught exception as a crash.
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pouch;
  // A name, not a file: open_image never touches the disk.
  constexpr const char* kName = "fuzz-input.h5";
  std::optional<Hdf5File> file;
  expect_clean([&] { file.emplace(Hdf5File::open_image(kName, data, size)); });
  if (!file) return 0;

  expect_clean([&] { (void)read_model_group(*file); });   // load_weights
  expect_clean([&] { (void)read_model_config(*file); });  // read_weights_config
  expect_clean([&] { (void)verify_checkpoint_file(*file); });
  for (bool verify : {true, false}) {
    expect_clean([&] {
      // Rank 1 of tp=2: several hyperslab blocks per tensor, and rows 1 of /rng, /data.
      CheckpointState state = fuzz::tiny_targets(1, 2);
      ReadOptions options;
      options.rank = 1;
      options.verify = verify;
      read_checkpoint_file(*file, state, options);
    });
  }
  return 0;
}
