#pragma once
// One HDF5 file seen as groups, tensor datasets and scalar attributes. The
// weights file is built on it now; full training-state checkpoints (/meta,
// /optim, /rng, checksums) reuse the same calls, and parallel HDF5 adds a
// collective create mode and per-rank hyperslab writes behind this interface
// without changing its readers.
//
// Object names are absolute HDF5 paths ("/model/blocks.0.ln1.weight"); dots
// are ordinary characters in HDF5 link names, so parameter names are used as
// they are. Every failure is a pouch::Error that names the file and the
// object. hdf5.h stays out of this header: HDF5 is a private dependency of
// pouch_checkpoint.
//
// Threads: every method (the destructor too) holds the process-wide HDF5
// lock (hdf5_handle.h), so different files may be used from different
// threads at once; their HDF5 calls run one at a time. One Hdf5File object,
// like any object, is used by one thread at a time.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/dtype.h"
#include "runtime/tensor.h"

namespace pouch {

enum class Hdf5Kind { Missing, Group, Dataset, Other };
enum class Hdf5AttrKind { Int, Float, String, Other };

class Hdf5File {
 public:
  // A new, empty file opened for writing; an existing file is replaced.
  static Hdf5File create(const std::string& path);
  // An existing file, read-only. Errors say whether the file is missing, not
  // HDF5 at all, or damaged (e.g. a writer was killed mid-write).
  static Hdf5File open(const std::string& path);
  // A read-only file held in memory: HDF5's core driver over a copy of
  // `bytes` (nothing is read from or written to disk). `name` stands for the
  // path in errors; it must not name an existing file (HDF5's core driver
  // refuses to shadow one). For loading from a buffer, e.g. the fuzz target.
  static Hdf5File open_image(const std::string& name, const void* bytes, std::size_t size);
  // An existing file opened read-write (the checksum pass of a checkpoint
  // adds attributes to a file written collectively).
  static Hdf5File open_for_update(const std::string& path);
  // A new file created with a file-access property list (an hid_t, e.g. one
  // set up for MPI-IO); for code in checkpoint/ that includes hdf5_handle.h.
  static Hdf5File create_with_access(const std::string& path, std::int64_t fapl);

  Hdf5File(Hdf5File&& other) noexcept;
  Hdf5File& operator=(Hdf5File&& other) noexcept;
  Hdf5File(const Hdf5File&) = delete;
  Hdf5File& operator=(const Hdf5File&) = delete;
  ~Hdf5File();  // closes quietly; call close() to see errors

  const std::string& path() const { return path_; }
  // The file's hid_t, for code in checkpoint/ that includes hdf5_handle.h.
  std::int64_t id() const { return id_; }

  // Groups remember the order their members were created in, so children()
  // returns datasets in the order they were written.
  void create_group(const std::string& group);
  Hdf5Kind kind(const std::string& object) const;
  // Names (not paths) of a group's members: in creation order when the writer
  // tracked it (pouch does), else by name (e.g. files written by h5py).
  std::vector<std::string> children(const std::string& group) const;

  // Writes a contiguous CPU tensor (f32, i32, i8 or u16) as a dataset of the
  // same shape; a 0-d tensor becomes a scalar dataset.
  void write_dataset(const std::string& name, const Tensor& tensor);
  // Reads a dataset into a new tensor of `dtype`. For f32, any floating-point
  // dataset (f16, f32, f64) is converted; for integer dtypes any integer
  // dataset is. Another class of data is an error naming the dataset.
  Tensor read_dataset(const std::string& name, DType dtype = DType::F32) const;
  Shape dataset_shape(const std::string& name) const;

  // Scalar attributes of a group or dataset. Strings are variable-length
  // UTF-8 (h5py reads them as str); integers int64; floats f32 or f64.
  void set_attr_i64(const std::string& object, const std::string& key, std::int64_t value);
  void set_attr_f32(const std::string& object, const std::string& key, float value);
  void set_attr_f64(const std::string& object, const std::string& key, double value);
  void set_attr_str(const std::string& object, const std::string& key, const std::string& value);

  bool has_attr(const std::string& object, const std::string& key) const;
  std::vector<std::string> attr_names(const std::string& object) const;
  Hdf5AttrKind attr_kind(const std::string& object, const std::string& key) const;
  // Readers accept any integer type for get_attr_i64, any integer or float for
  // get_attr_f64, and fixed- or variable-length strings for get_attr_str; a
  // missing attribute, another type or a non-scalar value is an error.
  std::int64_t get_attr_i64(const std::string& object, const std::string& key) const;
  double get_attr_f64(const std::string& object, const std::string& key) const;
  std::string get_attr_str(const std::string& object, const std::string& key) const;

  // Flushes and closes; throws if HDF5 could not finish writing the file.
  void close();

 private:
  Hdf5File(std::string path, std::int64_t id, bool writable);
  static Hdf5File open_mode(const std::string& path, bool writable);
  void require_writable(const char* what) const;

  std::string path_;
  std::int64_t id_ = -1;  // hid_t of the file
  bool writable_ = false;
};

}  // namespace pouch
