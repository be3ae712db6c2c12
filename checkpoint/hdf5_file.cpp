#include "checkpoint/hdf5_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <type_traits>
#include <utility>

#include "checkpoint/hdf5_handle.h"

namespace pouch {

static_assert(std::is_same_v<hid_t, std::int64_t>, "Hdf5File stores hid_t as std::int64_t");

namespace {

// " (HDF5: <cause>)", or "" when HDF5 left no message. Must run right after
// the failing call: any later HDF5 call clears the error stack.
std::string cause() {
  std::string e = h5::last_error();
  return e.empty() ? std::string() : fmt::format(" (HDF5: {})", e);
}

hid_t file_type(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return H5T_IEEE_F32LE;
    case DType::I32:
      return H5T_STD_I32LE;
    case DType::I8:
      return H5T_STD_I8LE;
    case DType::U16:
      return H5T_STD_U16LE;
    default:
      POUCH_CHECK(false, "no HDF5 storage type for dtype {}", dtype_name(dtype));
  }
  return H5I_INVALID_HID;
}

hid_t memory_type(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return H5T_NATIVE_FLOAT;
    case DType::I32:
      return H5T_NATIVE_INT32;
    case DType::I8:
      return H5T_NATIVE_INT8;
    case DType::U16:
      return H5T_NATIVE_UINT16;
    default:
      POUCH_CHECK(false, "no HDF5 memory type for dtype {}", dtype_name(dtype));
  }
  return H5I_INVALID_HID;
}

const char* class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER:
      return "an integer";
    case H5T_FLOAT:
      return "a floating-point";
    case H5T_STRING:
      return "a string";
    case H5T_COMPOUND:
      return "a compound";
    case H5T_ENUM:
      return "an enum";
    case H5T_ARRAY:
      return "an array";
    case H5T_VLEN:
      return "a variable-length";
    case H5T_REFERENCE:
      return "a reference";
    default:
      return "an unsupported";
  }
}

// Opens a group or dataset by absolute path; the caller has checked it exists.
h5::Handle open_object(const std::string& file_path, hid_t file, const std::string& object) {
  h5::Handle obj = h5::object(H5Oopen(file, object.c_str(), H5P_DEFAULT));
  if (!obj) fail("{}: cannot open '{}'{}", file_path, object, cause());
  return obj;
}

h5::Handle open_attribute(const std::string& file_path, hid_t file, const std::string& object, const std::string& key) {
  h5::Handle obj = open_object(file_path, file, object);
  htri_t exists = H5Aexists(obj.get(), key.c_str());
  if (exists <= 0)
    fail("{}: '{}' has no attribute '{}'{}", file_path, object, key, exists < 0 ? cause() : std::string());
  h5::Handle attr = h5::attribute(H5Aopen(obj.get(), key.c_str(), H5P_DEFAULT));
  if (!attr) fail("{}: cannot open attribute '{}' of '{}'{}", file_path, key, object, cause());
  return attr;
}

// Attributes pouch reads are single values: a scalar or a 1-element array.
void require_single_value(const std::string& file_path, hid_t attr, const std::string& object, const std::string& key) {
  h5::Handle space = h5::dataspace(H5Aget_space(attr));
  hssize_t n = space ? H5Sget_simple_extent_npoints(space.get()) : -1;
  if (n != 1)
    fail("{}: attribute '{}' of '{}' holds {} values, expected a single value", file_path, key, object,
         n < 0 ? std::string("an unknown number of") : std::to_string(n));
}

H5T_class_t attr_class(const std::string& file_path, hid_t attr, const std::string& object, const std::string& key) {
  h5::Handle type = h5::datatype(H5Aget_type(attr));
  H5T_class_t c = type ? H5Tget_class(type.get()) : H5T_NO_CLASS;
  if (c == H5T_NO_CLASS) fail("{}: cannot read the type of attribute '{}' of '{}'{}", file_path, key, object, cause());
  return c;
}

// Creates (or replaces) a scalar attribute of `file_type` and writes `value`
// given in `mem_type`.
void write_attr(const std::string& file_path, hid_t file, const std::string& object, const std::string& key,
                hid_t file_type, hid_t mem_type, const void* value) {
  h5::Handle obj = open_object(file_path, file, object);
  if (H5Aexists(obj.get(), key.c_str()) > 0 && H5Adelete(obj.get(), key.c_str()) < 0)
    fail("{}: cannot replace attribute '{}' of '{}'{}", file_path, key, object, cause());
  h5::Handle space = h5::dataspace(H5Screate(H5S_SCALAR));
  h5::Handle attr = h5::attribute(H5Acreate2(obj.get(), key.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr || H5Awrite(attr.get(), mem_type, value) < 0)
    fail("{}: cannot write attribute '{}' of '{}'{}", file_path, key, object, cause());
}

}  // namespace

Hdf5File::Hdf5File(std::string path, std::int64_t id, bool writable)
    : path_(std::move(path)), id_(id), writable_(writable) {}

Hdf5File::Hdf5File(Hdf5File&& other) noexcept
    : path_(std::move(other.path_)), id_(std::exchange(other.id_, -1)), writable_(other.writable_) {}

Hdf5File& Hdf5File::operator=(Hdf5File&& other) noexcept {
  h5::Lock lock;
  if (this != &other) {
    if (id_ >= 0) H5Fclose(id_);
    path_ = std::move(other.path_);
    id_ = std::exchange(other.id_, -1);
    writable_ = other.writable_;
  }
  return *this;
}

Hdf5File::~Hdf5File() {
  h5::Lock lock;
  if (id_ >= 0) H5Fclose(id_);
}

namespace {
// H5F_CLOSE_SEMI: H5Fclose fails rather than silently keeping the file open
// when an object is still open, so a leak shows up as an error, not as a file
// that is only complete once the process exits.
h5::Handle file_access_plist() {
  h5::Handle fapl = h5::plist(H5Pcreate(H5P_FILE_ACCESS));
  POUCH_CHECK(fapl.valid() && H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_SEMI) >= 0);
  return fapl;
}
}  // namespace

Hdf5File Hdf5File::create(const std::string& path) {
  h5::Lock lock;
  h5::silence_errors();
  h5::Handle fapl = file_access_plist();
  return create_with_access(path, fapl.get());
}

Hdf5File Hdf5File::create_with_access(const std::string& path, std::int64_t fapl) {
  h5::Lock lock;
  h5::silence_errors();
  POUCH_CHECK(H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI) >= 0);
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (id < 0) fail("cannot create HDF5 file '{}'{}: check that its directory exists and is writable", path, cause());
  return Hdf5File(path, id, true);
}

Hdf5File Hdf5File::open(const std::string& path) { return open_mode(path, false); }
Hdf5File Hdf5File::open_for_update(const std::string& path) { return open_mode(path, true); }

Hdf5File Hdf5File::open_mode(const std::string& path, bool writable) {
  h5::Lock lock;
  h5::silence_errors();
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) fail("HDF5 file '{}' does not exist: check the path", path);
  if (std::filesystem::is_directory(status)) fail("'{}' is a directory, not an HDF5 file: give the file's path", path);
  htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 == 0) fail("'{}' is not an HDF5 file (no HDF5 signature): give a file written by pouch or h5py", path);
  if (is_hdf5 < 0) fail("cannot read '{}'{}: check that it is readable", path, cause());
  h5::Handle fapl = file_access_plist();
  hid_t id = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl.get());
  if (id < 0)
    fail(
        "cannot open HDF5 file '{}'{}: the file is damaged, probably cut short by an interrupted write; "
        "use an earlier copy or write it again",
        path, cause());
  return Hdf5File(path, id, writable);
}

Hdf5File Hdf5File::open_image(const std::string& name, const void* bytes, std::size_t size) {
  h5::Lock lock;
  h5::silence_errors();
  // HDF5 reads an image of size 0 as "no image" and would look for `name` on disk.
  if (size == 0) fail("'{}' is empty, not an HDF5 file: give a file written by pouch or h5py", name);
  h5::Handle fapl = file_access_plist();
  // Backing store off: the image is never written back. H5Pset_file_image
  // copies the buffer, so the caller's bytes need not outlive the file.
  POUCH_CHECK(H5Pset_fapl_core(fapl.get(), 64 * 1024, false) >= 0 &&
              H5Pset_file_image(fapl.get(), const_cast<void*>(bytes), size) >= 0);
  hid_t id = H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (id < 0) fail("cannot open HDF5 image '{}'{}: not an HDF5 file, or a damaged one", name, cause());
  return Hdf5File(name, id, false);
}

void Hdf5File::close() {
  h5::Lock lock;
  if (id_ < 0) return;
  herr_t status = H5Fclose(std::exchange(id_, -1));
  if (status < 0) fail("cannot finish writing HDF5 file '{}'{}: check free disk space", path_, cause());
}

void Hdf5File::require_writable(const char* what) const {
  POUCH_CHECK(id_ >= 0, "{} on closed HDF5 file {}", what, path_);
  POUCH_CHECK(writable_, "{} on HDF5 file {} opened read-only", what, path_);
}

void Hdf5File::create_group(const std::string& group) {
  h5::Lock lock;
  require_writable("create_group");
  h5::Handle gcpl = h5::plist(H5Pcreate(H5P_GROUP_CREATE));
  POUCH_CHECK(gcpl.valid() &&
              H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) >= 0);
  h5::Handle g = h5::group(H5Gcreate2(id_, group.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT));
  if (!g) fail("{}: cannot create group '{}'{}", path_, group, cause());
}

Hdf5Kind Hdf5File::kind(const std::string& object) const {
  h5::Lock lock;
  POUCH_CHECK(id_ >= 0 && !object.empty() && object[0] == '/', "kind('{}') needs an absolute path", object);
  // H5Lexists fails (rather than answering no) when an intermediate group is
  // missing, so check each prefix of the path in turn.
  for (std::size_t pos = object.find('/', 1);; pos = object.find('/', pos + 1)) {
    std::string prefix = object.substr(0, pos);
    if (prefix.size() > 1 && H5Lexists(id_, prefix.c_str(), H5P_DEFAULT) <= 0) return Hdf5Kind::Missing;
    if (pos == std::string::npos) break;
  }
  h5::Handle obj = h5::object(H5Oopen(id_, object.c_str(), H5P_DEFAULT));
  if (!obj) return Hdf5Kind::Other;  // e.g. a dangling soft link
  switch (H5Iget_type(obj.get())) {
    case H5I_GROUP:
      return Hdf5Kind::Group;
    case H5I_DATASET:
      return Hdf5Kind::Dataset;
    default:
      return Hdf5Kind::Other;
  }
}

std::vector<std::string> Hdf5File::children(const std::string& group) const {
  h5::Lock lock;
  h5::Handle g = h5::group(H5Gopen2(id_, group.c_str(), H5P_DEFAULT));
  if (!g) fail("{}: cannot open group '{}'{}", path_, group, cause());
  H5G_info_t info;
  if (H5Gget_info(g.get(), &info) < 0) fail("{}: cannot list group '{}'{}", path_, group, cause());

  H5_index_t index = H5_INDEX_NAME;
  h5::Handle gcpl = h5::plist(H5Gget_create_plist(g.get()));
  unsigned order_flags = 0;
  if (gcpl && H5Pget_link_creation_order(gcpl.get(), &order_flags) >= 0 && (order_flags & H5P_CRT_ORDER_INDEXED))
    index = H5_INDEX_CRT_ORDER;

  std::vector<std::string> names;
  names.reserve(info.nlinks);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t len = H5Lget_name_by_idx(g.get(), ".", index, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) fail("{}: cannot list group '{}'{}", path_, group, cause());
    std::string name(static_cast<std::size_t>(len), '\0');
    H5Lget_name_by_idx(g.get(), ".", index, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT);
    names.push_back(std::move(name));
  }
  return names;
}

void Hdf5File::write_dataset(const std::string& name, const Tensor& tensor) {
  h5::Lock lock;
  require_writable("write_dataset");
  POUCH_CHECK(tensor.defined() && tensor.device() == Device::CPU, "write_dataset('{}') needs a CPU tensor", name);
  std::vector<hsize_t> dims(tensor.shape().begin(), tensor.shape().end());
  h5::Handle space = h5::dataspace(
      dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  POUCH_CHECK(space.valid(), "dataspace for {}", shape_str(tensor.shape()));
  h5::Handle dset = h5::dataset(
      H5Dcreate2(id_, name.c_str(), file_type(tensor.dtype()), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!dset) fail("{}: cannot create dataset '{}'{}", path_, name, cause());
  if (tensor.numel() > 0 &&
      H5Dwrite(dset.get(), memory_type(tensor.dtype()), H5S_ALL, H5S_ALL, H5P_DEFAULT, tensor.raw()) < 0)
    fail("{}: cannot write dataset '{}'{}: check free disk space", path_, name, cause());
}

namespace {
struct DatasetInfo {
  h5::Handle dset;
  H5T_class_t type_class;
  std::string type_desc;
  Shape shape;
};

// A damaged header can declare any shape (found by fuzzing: a 9 KB file whose
// dataset claimed 11 GB made verification allocate it all, and dimensions
// past 2^63 overflowed the element count). Before anyone allocates for a
// dataset: its byte size must fit in 64 bits, the file must store no more of
// it than the whole file, and the stored bytes must account for the declared
// ones. Uncompressed (pouch's own, h5py's default), that is all of them.
// Through HDF5 filters (h5py's gzip, lzf, szip), a stored byte holds at most
// kMaxFilterInflation bytes: deflate's ceiling, 1032:1 (a 258-byte match in
// two bits), is the highest of them. Without that bound a damaged filter
// message let a few stored bytes declare 22 GB (found by fuzzing).
constexpr std::uint64_t kMaxFilterInflation = 1032;

void require_stored(const std::string& file_path, hid_t file, const DatasetInfo& info, std::size_t type_size,
                    const std::string& name) {
  std::uint64_t bytes = type_size;
  for (auto d : info.shape) {
    const auto dim = static_cast<std::uint64_t>(d);
    if (d < 0 || (dim != 0 && bytes > std::numeric_limits<std::int64_t>::max() / dim))
      fail("{}: dataset '{}' declares a size past 2^63 bytes: the file is damaged; use an earlier copy", file_path,
           name);
    bytes *= dim;
  }
  if (bytes == 0) return;
  h5::Handle dcpl = h5::plist(H5Dget_create_plist(info.dset.get()));
  if (!dcpl) fail("{}: cannot read the storage of dataset '{}'{}", file_path, name, cause());
  const int filters = H5Pget_nfilters(dcpl.get());
  if (filters < 0) fail("{}: cannot read the filters of dataset '{}'{}", file_path, name, cause());
  hsize_t stored = H5Dget_storage_size(info.dset.get());
  hsize_t file_size = 0;
  if (H5Fget_filesize(file, &file_size) < 0) fail("{}: cannot read the file's size{}", file_path, cause());
  if (filters > 0 && stored <= file_size) {
    if (stored == 0 || bytes / stored >= kMaxFilterInflation)
      fail(
          "{}: dataset '{}' declares {} bytes but, through its {} HDF5 filter(s), the file stores {}: more than "
          "{}:1, which no compression filter reaches; the file is damaged (or written with a filter pouch cannot "
          "bound: rewrite it uncompressed)",
          file_path, name, bytes, filters, stored, kMaxFilterInflation);
    return;
  }
  if (stored < bytes || stored > file_size)
    fail(
        "{}: dataset '{}' declares {} bytes but the file stores {} of them{}: the file is damaged (cut short or "
        "overwritten); use an earlier copy",
        file_path, name, bytes, stored, stored > file_size ? fmt::format(", more than its {} bytes", file_size) : "");
}

DatasetInfo inspect_dataset(const std::string& file_path, hid_t file, const std::string& name) {
  DatasetInfo info;
  info.dset = h5::dataset(H5Dopen2(file, name.c_str(), H5P_DEFAULT));
  if (!info.dset) fail("{}: cannot open dataset '{}'{}", file_path, name, cause());
  h5::Handle type = h5::datatype(H5Dget_type(info.dset.get()));
  info.type_class = type ? H5Tget_class(type.get()) : H5T_NO_CLASS;
  info.type_desc = fmt::format("{} type of {} bytes", class_name(info.type_class), type ? H5Tget_size(type.get()) : 0);
  h5::Handle space = h5::dataspace(H5Dget_space(info.dset.get()));
  H5S_class_t space_class = space ? H5Sget_simple_extent_type(space.get()) : H5S_NO_CLASS;
  if (space_class == H5S_SIMPLE) {
    int rank = H5Sget_simple_extent_ndims(space.get());
    std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    for (hsize_t d : dims)
      if (d > static_cast<hsize_t>(std::numeric_limits<std::int64_t>::max()))
        fail("{}: dataset '{}' declares a dimension of {}: the file is damaged; use an earlier copy", file_path, name,
             d);
    info.shape.assign(dims.begin(), dims.end());
  } else if (space_class != H5S_SCALAR) {
    fail("{}: dataset '{}' has no data (an empty dataspace): write it with a shape", file_path, name);
  }
  require_stored(file_path, file, info, type ? H5Tget_size(type.get()) : 0, name);
  return info;
}
}  // namespace

Shape Hdf5File::dataset_shape(const std::string& name) const {
  h5::Lock lock;
  POUCH_CHECK(id_ >= 0, "dataset_shape on closed HDF5 file {}", path_);
  return inspect_dataset(path_, id_, name).shape;
}

Tensor Hdf5File::read_dataset(const std::string& name, DType dtype) const {
  h5::Lock lock;
  POUCH_CHECK(id_ >= 0, "read_dataset on closed HDF5 file {}", path_);
  DatasetInfo info = inspect_dataset(path_, id_, name);
  bool want_float = dtype == DType::F32;
  H5T_class_t want = want_float ? H5T_FLOAT : H5T_INTEGER;
  if (info.type_class != want)
    fail("{}: dataset '{}' has {}, expected {} type: store it as {}", path_, name, info.type_desc,
         want_float ? "a floating-point" : "an integer", want_float ? "float32" : dtype_name(dtype));
  Tensor out = Tensor::empty(info.shape, dtype);
  // HDF5 converts from the stored type (e.g. f16 or f64) to the memory type.
  if (out.numel() > 0 && H5Dread(info.dset.get(), memory_type(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.raw()) < 0)
    fail("{}: cannot read dataset '{}'{}: the file may be damaged; write it again", path_, name, cause());
  return out;
}

void Hdf5File::set_attr_i64(const std::string& object, const std::string& key, std::int64_t value) {
  h5::Lock lock;
  require_writable("set_attr_i64");
  write_attr(path_, id_, object, key, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void Hdf5File::set_attr_f32(const std::string& object, const std::string& key, float value) {
  h5::Lock lock;
  require_writable("set_attr_f32");
  write_attr(path_, id_, object, key, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &value);
}

void Hdf5File::set_attr_f64(const std::string& object, const std::string& key, double value) {
  h5::Lock lock;
  require_writable("set_attr_f64");
  write_attr(path_, id_, object, key, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

void Hdf5File::set_attr_str(const std::string& object, const std::string& key, const std::string& value) {
  h5::Lock lock;
  require_writable("set_attr_str");
  // A variable-length string lives in the file's global heap, so large texts
  // (a tokenizer's JSON) do not hit the 64 KiB limit of an object header.
  POUCH_CHECK(value.find('\0') == std::string::npos, "string attribute '{}' contains a NUL byte", key);
  h5::Handle type = h5::datatype(H5Tcopy(H5T_C_S1));
  POUCH_CHECK(type.valid() && H5Tset_size(type.get(), H5T_VARIABLE) >= 0 &&
              H5Tset_cset(type.get(), H5T_CSET_UTF8) >= 0);
  const char* data = value.c_str();
  write_attr(path_, id_, object, key, type.get(), type.get(), &data);
}

bool Hdf5File::has_attr(const std::string& object, const std::string& key) const {
  h5::Lock lock;
  h5::Handle obj = open_object(path_, id_, object);
  return H5Aexists(obj.get(), key.c_str()) > 0;
}

namespace {
herr_t collect_attr_name(hid_t, const char* name, const H5A_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->emplace_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> Hdf5File::attr_names(const std::string& object) const {
  h5::Lock lock;
  h5::Handle obj = open_object(path_, id_, object);
  std::vector<std::string> names;
  hsize_t idx = 0;
  if (H5Aiterate2(obj.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr_name, &names) < 0)
    fail("{}: cannot list the attributes of '{}'{}", path_, object, cause());
  return names;
}

Hdf5AttrKind Hdf5File::attr_kind(const std::string& object, const std::string& key) const {
  h5::Lock lock;
  h5::Handle attr = open_attribute(path_, id_, object, key);
  switch (attr_class(path_, attr.get(), object, key)) {
    case H5T_INTEGER:
      return Hdf5AttrKind::Int;
    case H5T_FLOAT:
      return Hdf5AttrKind::Float;
    case H5T_STRING:
      return Hdf5AttrKind::String;
    default:
      return Hdf5AttrKind::Other;
  }
}

std::int64_t Hdf5File::get_attr_i64(const std::string& object, const std::string& key) const {
  h5::Lock lock;
  h5::Handle attr = open_attribute(path_, id_, object, key);
  H5T_class_t c = attr_class(path_, attr.get(), object, key);
  if (c != H5T_INTEGER)
    fail("{}: attribute '{}' of '{}' has {} type, expected an integer", path_, key, object, class_name(c));
  require_single_value(path_, attr.get(), object, key);
  std::int64_t value = 0;
  if (H5Aread(attr.get(), H5T_NATIVE_INT64, &value) < 0)
    fail("{}: cannot read attribute '{}' of '{}'{}", path_, key, object, cause());
  return value;
}

double Hdf5File::get_attr_f64(const std::string& object, const std::string& key) const {
  h5::Lock lock;
  h5::Handle attr = open_attribute(path_, id_, object, key);
  H5T_class_t c = attr_class(path_, attr.get(), object, key);
  if (c != H5T_FLOAT && c != H5T_INTEGER)
    fail("{}: attribute '{}' of '{}' has {} type, expected a number", path_, key, object, class_name(c));
  require_single_value(path_, attr.get(), object, key);
  double value = 0;
  if (H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &value) < 0)
    fail("{}: cannot read attribute '{}' of '{}'{}", path_, key, object, cause());
  return value;
}

std::string Hdf5File::get_attr_str(const std::string& object, const std::string& key) const {
  h5::Lock lock;
  h5::Handle attr = open_attribute(path_, id_, object, key);
  H5T_class_t c = attr_class(path_, attr.get(), object, key);
  if (c != H5T_STRING)
    fail("{}: attribute '{}' of '{}' has {} type, expected a string", path_, key, object, class_name(c));
  require_single_value(path_, attr.get(), object, key);
  h5::Handle file_type = h5::datatype(H5Aget_type(attr.get()));
  htri_t variable = H5Tis_variable_str(file_type.get());
  if (variable < 0) fail("{}: cannot read the type of attribute '{}' of '{}'{}", path_, key, object, cause());

  if (variable > 0) {
    // The character set comes from the file: a damaged one is the file's
    // fault, not an internal error (found by fuzzing: it used to abort here).
    H5T_cset_t cset = H5Tget_cset(file_type.get());
    if (cset != H5T_CSET_ASCII && cset != H5T_CSET_UTF8)
      fail(
          "{}: attribute '{}' of '{}' is a string of unknown character set {}: the file is damaged; use an "
          "earlier copy",
          path_, key, object, static_cast<int>(cset));
    h5::Handle mem = h5::datatype(H5Tcopy(H5T_C_S1));
    POUCH_CHECK(mem.valid() && H5Tset_size(mem.get(), H5T_VARIABLE) >= 0 && H5Tset_cset(mem.get(), cset) >= 0);
    char* data = nullptr;
    if (H5Aread(attr.get(), mem.get(), &data) < 0)
      fail("{}: cannot read attribute '{}' of '{}'{}", path_, key, object, cause());
    std::string value = data != nullptr ? std::string(data) : std::string();
    H5free_memory(data);
    return value;
  }

  // Fixed length (e.g. numpy bytes written by h5py): padded with NULs or spaces.
  // The size comes from the file's datatype message (up to 4 GiB): bounded
  // before allocating, as a dataset's is (require_stored).
  constexpr std::size_t kMaxFixedStringAttr = std::size_t{16} << 20;
  std::size_t size = H5Tget_size(file_type.get());
  if (size > kMaxFixedStringAttr)
    fail(
        "{}: attribute '{}' of '{}' declares a string of {} bytes (more than {}): the file is damaged; use an "
        "earlier copy",
        path_, key, object, size, kMaxFixedStringAttr);
  std::string value(size, '\0');
  if (size > 0 && H5Aread(attr.get(), file_type.get(), value.data()) < 0)
    fail("{}: cannot read attribute '{}' of '{}'{}", path_, key, object, cause());
  if (H5Tget_strpad(file_type.get()) == H5T_STR_SPACEPAD) {
    value.erase(value.find_last_not_of(' ') + 1);
  } else if (auto nul = value.find('\0'); nul != std::string::npos) {
    value.resize(nul);
  }
  return value;
}

}  // namespace pouch
