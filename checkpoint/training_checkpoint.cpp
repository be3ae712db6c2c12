#include "checkpoint/training_checkpoint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <mpi.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <set>

#include "checkpoint/hdf5_file.h"
#include "checkpoint/hdf5_handle.h"
#include "checkpoint/weights_file.h"
#include "parallel/communicator.h"
#include "parallel/mpi_communicator.h"
#include "parallel/parallel_context.h"

namespace pouch {

namespace {

constexpr const char* kChecksumAttr = "xxh64";
// /meta attributes the format defines; other string attributes are extra_attrs.
constexpr std::array<const char*, 9> kMetaKeys{
    "format_version", "pouch_version", "config", "phase", "step", "tokens_seen", "tp", "dp", "world_size"};

std::string cause() {
  std::string e = h5::last_error();
  return e.empty() ? std::string() : fmt::format(" (HDF5: {})", e);
}

bool valid_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

// The '/'-separated parts of a /phase tensor's name, each a valid_name.
std::vector<std::string> phase_name_parts(const std::string& name) {
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    const std::size_t slash = name.find('/', start);
    parts.push_back(name.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return parts;
}

bool valid_phase_name(const std::string& name) {
  const auto parts = phase_name_parts(name);
  return static_cast<int>(parts.size()) <= kMaxPhaseNameParts &&
         std::all_of(parts.begin(), parts.end(), [](const std::string& p) { return valid_name(p); });
}

// Phase names must not collide as HDF5 links: no duplicate, and no name that
// is a group on another's path ("a" and "a/b").
void check_phase_names(const std::vector<ShardedTensor>& phase) {
  std::set<std::string> names;
  for (const auto& t : phase) {
    POUCH_CHECK(valid_phase_name(t.name),
                "'{}' cannot be a /phase tensor name (1 to {} '/'-separated parts, none empty, '.' or '..')", t.name,
                kMaxPhaseNameParts);
    POUCH_CHECK(names.insert(t.name).second, "phase tensor '{}' listed twice", t.name);
  }
  for (const auto& t : phase)
    for (std::size_t slash = t.name.find('/'); slash != std::string::npos; slash = t.name.find('/', slash + 1))
      POUCH_CHECK(names.count(t.name.substr(0, slash)) == 0, "phase tensor '{}' would be a group on the path of '{}'",
                  t.name.substr(0, slash), t.name);
}

// One block of a hyperslab selection: the same block in the file (full
// logical shape) and in the rank's local tensor.
struct Block {
  std::vector<hsize_t> file_start, mem_start, count;
};

// The blocks of `full` that `spec` gives to its rank, in C order of the file
// (so their points are also in the local tensor's C order):
//   Replicated (or one rank without padding): the whole tensor.
//   Rows: for section s, rows [s*B + rank*L, s*B + rank*L + L) of the padded
//     dim 0 (B = padded rows / sections, L = B / ranks), clipped to the real
//     rows; local rows [s*L, s*L + kept). Padding rows have no block.
//   Columns: the last dim's [rank*c, rank*c + c), c = cols / ranks, all rows.
std::vector<Block> blocks_of(const ShardSpec& spec, const Shape& full) {
  const std::size_t nd = full.size();
  std::vector<hsize_t> dims(full.begin(), full.end());
  std::vector<hsize_t> zero(nd, 0);
  if (spec.kind == ShardSpec::Kind::Replicated || (spec.ranks == 1 && spec.padded_rows == 0))
    return {{zero, zero, dims}};
  Shape local = shard_shape(spec, full);  // checks divisibility
  std::vector<Block> out;
  if (spec.kind == ShardSpec::Kind::Rows) {
    const std::int64_t rows = spec.padded_rows > 0 ? spec.padded_rows : full[0];
    const std::int64_t block = rows / spec.sections, per_rank = block / spec.ranks;
    for (int s = 0; s < spec.sections; ++s) {
      const std::int64_t first = s * block + spec.rank * per_rank;
      const std::int64_t kept = std::clamp<std::int64_t>(full[0] - first, 0, per_rank);
      if (kept == 0) continue;
      Block b{zero, zero, dims};
      b.file_start[0] = static_cast<hsize_t>(first);
      b.mem_start[0] = static_cast<hsize_t>(s * per_rank);
      b.count[0] = static_cast<hsize_t>(kept);
      out.push_back(std::move(b));
    }
  } else {
    Block b{zero, zero, dims};
    b.file_start[nd - 1] = static_cast<hsize_t>(spec.rank * local.back());
    b.count[nd - 1] = static_cast<hsize_t>(local.back());
    out.push_back(std::move(b));
  }
  return out;
}

h5::Handle simple_space(const Shape& shape) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  h5::Handle space = h5::dataspace(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  POUCH_CHECK(space.valid(), "dataspace for {}", shape_str(shape));
  return space;
}

// Selects `blocks` (their file or memory coordinates) in `space`; none when empty.
void select(hid_t space, const std::vector<Block>& blocks, bool file_side) {
  if (blocks.empty()) {
    POUCH_CHECK(H5Sselect_none(space) >= 0);
    return;
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto& start = file_side ? blocks[i].file_start : blocks[i].mem_start;
    POUCH_CHECK(H5Sselect_hyperslab(space, i == 0 ? H5S_SELECT_SET : H5S_SELECT_OR, start.data(), nullptr,
                                    blocks[i].count.data(), nullptr) >= 0);
  }
}

h5::Handle transfer_plist(bool collective) {
  h5::Handle dxpl = h5::plist(H5Pcreate(H5P_DATASET_XFER));
  POUCH_CHECK(dxpl.valid());
  if (collective) POUCH_CHECK(H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE) >= 0);
  return dxpl;
}

// ---- writing ---------------------------------------------------------------

// The checksum pass hashes each dataset "as stored": the file type's bytes
// in C order. Those are the memory bytes of f32/u64/i64 only on a
// little-endian host; elsewhere every dataset is hashed from the file.
constexpr bool kStoredBytesAreNative = std::endian::native == std::endian::little;

// Whether `blocks` copy the whole of `full` from the first shape_numel(full)
// elements of a local buffer of shape `local`, in order: one block at the
// origin spanning every dim, and rows of the same width. Then the dataset's
// stored bytes are that prefix of the buffer.
bool whole_prefix(const std::vector<Block>& blocks, const Shape& full, const Shape& local) {
  if (blocks.size() != 1 || local.size() != full.size() || shape_numel(full) == 0) return false;
  const Block& b = blocks[0];
  for (std::size_t d = 0; d < full.size(); ++d) {
    if (b.file_start[d] != 0 || b.mem_start[d] != 0 || b.count[d] != static_cast<hsize_t>(full[d])) return false;
    if (d > 0 && local[d] != full[d]) return false;
  }
  return true;
}

// Starts the kernel writing a file's dirty pages to disk while the writer
// goes on filling the page cache, so that the fsync of the publish protocol
// waits only for the tail. Without it nothing reaches the disk before that
// fsync (the dirty-page threshold is gigabytes on a large-memory node), and a
// checkpoint costs its copy into the page cache plus the whole flush instead
// of about the flush alone. A hint: failures are ignored, durability still
// comes from the fsync. Used by a world of one, whose file the default (POSIX)
// driver writes from this process; any descriptor of the file reaches its
// pages.
class EarlyWriteback {
 public:
  explicit EarlyWriteback(const std::string& path) {
#ifdef __linux__
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
#else
    (void)path;
#endif
  }
  EarlyWriteback(const EarlyWriteback&) = delete;
  EarlyWriteback& operator=(const EarlyWriteback&) = delete;
  ~EarlyWriteback() {
    if (fd_ >= 0) ::close(fd_);
  }
  // `bytes` more were written; past a few MiB, start their writeback.
  void wrote(std::size_t bytes) {
    if (fd_ < 0) return;
    pending_ += bytes;
    if (pending_ < kBatch) return;
    pending_ = 0;
#ifdef __linux__
    // Asynchronous: queues the writeback of the dirty pages not yet under
    // writeback (offset 0, length 0: the whole file) and returns.
    (void)::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
  }

 private:
  static constexpr std::size_t kBatch = std::size_t{8} << 20;
  int fd_ = -1;
  std::size_t pending_ = 0;
};

struct Writer {
  Hdf5File& file;
  const CheckpointGroup& group;
  h5::Handle dxpl;
  // dataset -> xxh64 of what this rank wrote as the whole dataset, hashed
  // from memory while writing; the checksum pass reads back only the rest.
  std::map<std::string, std::uint64_t>& hashed;
  EarlyWriteback* writeback = nullptr;  // a world of one's file

  // Creates `name` (collective) with `full` shape and writes `blocks` of the
  // local buffer `data` of shape `local` (this rank's part; empty = none).
  // `whole_bytes` > 0: this rank's `data` starts with the dataset's entire
  // stored contents, that many bytes, so its checksum needs no re-read.
  void write(const std::string& name, hid_t file_type, hid_t mem_type, const Shape& full, const Shape& local,
             const void* data, const std::vector<Block>& blocks, std::size_t whole_bytes = 0) {
    h5::Handle fspace = simple_space(full);
    h5::Handle dset = h5::dataset(
        H5Dcreate2(file.id(), name.c_str(), file_type, fspace.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (!dset) fail("{}: cannot create dataset '{}'{}", file.path(), name, cause());
    if (shape_numel(full) == 0) return;
    h5::Handle mspace = simple_space(local.empty() ? Shape{1} : local);
    select(fspace.get(), blocks, true);
    select(mspace.get(), blocks, false);
    // A rank with nothing to write still joins the collective write; HDF5
    // wants a buffer even for an empty selection.
    static const std::uint64_t unused = 0;
    if (H5Dwrite(dset.get(), mem_type, mspace.get(), fspace.get(), dxpl.get(), data != nullptr ? data : &unused) < 0)
      fail("{}: rank {} cannot write dataset '{}'{}: check free disk space", file.path(), group.rank, name, cause());
    if (writeback != nullptr) writeback->wrote(static_cast<std::size_t>(shape_numel(full)) * H5Tget_size(file_type));
    // Only rank 0 runs the checksum pass; the others would hash for nothing.
    if (whole_bytes > 0 && data != nullptr && group.rank == 0 && kStoredBytesAreNative)
      hashed[name] = XXH64(data, whole_bytes, 0);
  }

  void write_sharded(const std::string& name, const ShardedTensor& t) {
    POUCH_CHECK(t.local.defined() && t.local.dtype() == DType::F32 && t.local.device() == Device::CPU,
                "checkpoint tensor '{}' must be an f32 CPU tensor", name);
    POUCH_CHECK(!t.full_shape.empty(), "checkpoint tensor '{}' needs at least one dimension", name);
    POUCH_CHECK(t.local.shape() == shard_shape(t.shard, t.full_shape),
                "checkpoint tensor '{}': local {} is not the shard of {}", name, shape_str(t.local.shape()),
                shape_str(t.full_shape));
    const bool split = t.shard.kind != ShardSpec::Kind::Replicated && t.shard.ranks > 1;
    if (split)
      POUCH_CHECK(t.shard.ranks == group.tp_size && t.shard.rank == group.tp_rank,
                  "checkpoint tensor '{}' is sharded {} of {}, but this rank is tp {} of {}", name, t.shard.rank,
                  t.shard.ranks, group.tp_rank, group.tp_size);
    const bool mine = split ? group.dp_rank == 0 : group.rank == 0;
    std::vector<Block> blocks = mine ? blocks_of(t.shard, t.full_shape) : std::vector<Block>{};
    const std::size_t whole = whole_prefix(blocks, t.full_shape, t.local.shape())
                                  ? static_cast<std::size_t>(shape_numel(t.full_shape)) * sizeof(float)
                                  : 0;
    write(name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, t.full_shape, t.local.shape(), t.local.raw(), blocks, whole);
  }

  // [world_size, n] of 8-byte values, row `rank` from `row` (a world of
  // one's row is the whole dataset).
  void write_rows(const std::string& name, hid_t file_type, hid_t mem_type, std::size_t n, const void* row) {
    Shape full{group.size, static_cast<std::int64_t>(n)};
    Block b{{static_cast<hsize_t>(group.rank), 0}, {0, 0}, {1, static_cast<hsize_t>(n)}};
    write(name, file_type, mem_type, full, Shape{1, static_cast<std::int64_t>(n)}, row, std::vector<Block>{b},
          group.size == 1 ? n * sizeof(std::uint64_t) : 0);
  }
};

// A digest of everything whose shape must agree across ranks before the
// collective dataset creation (tensor names and shapes, rng/data keys and
// lengths). Ranks compare it with one all-reduce, so a mismatch is an error on
// every rank rather than a hang inside HDF5.
std::uint64_t structure_digest(const CheckpointState& s) {
  std::string text;
  auto tensors = [&](const char* what, const std::vector<ShardedTensor>& v) {
    text += what;
    for (const auto& t : v) text += fmt::format("|{}:{}", t.name, shape_str(t.full_shape));
  };
  tensors("model", s.model);
  tensors("m", s.optim_m);
  tensors("v", s.optim_v);
  tensors("phase", s.phase);
  for (const auto& [k, v] : s.rng_per_rank) text += fmt::format("|rng {}:{}", k, v.size());
  for (const auto& [k, v] : s.data_per_rank) text += fmt::format("|data {}:{}", k, v.size());
  for (const auto& [k, v] : s.f64_per_rank) text += fmt::format("|f64 {}:{}", k, v.size());
  return XXH64(text.data(), text.size(), 0);
}

void check_same_structure(const std::string& path, const CheckpointState& s, const CheckpointGroup& g) {
  if (g.size == 1) return;
  const std::uint64_t d = structure_digest(s);
  // 16-bit pieces and their negations: after a Max all-reduce, piece == max
  // and -piece == max(-piece) on every rank iff all ranks hold the same digest.
  Tensor t = Tensor::empty({8}, DType::I32);
  for (int i = 0; i < 4; ++i) {
    auto piece = static_cast<std::int32_t>((d >> (16 * i)) & 0xffff);
    t.data<std::int32_t>()[i] = piece;
    t.data<std::int32_t>()[4 + i] = -piece;
  }
  g.world->all_reduce(t, ReduceOp::Max);
  bool same = true;
  for (int i = 0; i < 4; ++i) {
    auto piece = static_cast<std::int32_t>((d >> (16 * i)) & 0xffff);
    same = same && t.data<std::int32_t>()[i] == piece && -t.data<std::int32_t>()[4 + i] == piece;
  }
  if (!same)
    fail(
        "checkpoint '{}': the ranks disagree on what to write (tensor names or shapes, phase tensors, rng streams "
        "or data keys and their lengths differ); every rank must pass the same structure",
        path);
}

void write_u64_attr(Hdf5File& file, const std::string& object, const char* key, std::uint64_t value) {
  h5::Handle obj = h5::object(H5Oopen(file.id(), object.c_str(), H5P_DEFAULT));
  if (!obj) fail("{}: cannot open '{}'{}", file.path(), object, cause());
  if (H5Aexists(obj.get(), key) > 0) H5Adelete(obj.get(), key);
  h5::Handle space = h5::dataspace(H5Screate(H5S_SCALAR));
  h5::Handle attr = h5::attribute(H5Acreate2(obj.get(), key, H5T_STD_U64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr || H5Awrite(attr.get(), H5T_NATIVE_UINT64, &value) < 0)
    fail("{}: cannot write attribute '{}' of '{}'{}", file.path(), key, object, cause());
}

// ---- reading and checksums ---------------------------------------------------

// xxHash64 of the dataset's data as stored (its file type, C order).
std::uint64_t dataset_xxh64(const Hdf5File& file, const std::string& name) {
  (void)file.dataset_shape(name);  // checks that the file holds all the data it declares
  h5::Handle dset = h5::dataset(H5Dopen2(file.id(), name.c_str(), H5P_DEFAULT));
  if (!dset) fail("{}: cannot open dataset '{}'{}: the checkpoint is damaged", file.path(), name, cause());
  h5::Handle type = h5::datatype(H5Dget_type(dset.get()));
  h5::Handle space = h5::dataspace(H5Dget_space(dset.get()));
  hssize_t n = space ? H5Sget_simple_extent_npoints(space.get()) : -1;
  if (!type || n < 0) fail("{}: cannot read the shape or type of dataset '{}'{}", file.path(), name, cause());
  const std::size_t elem = H5Tget_size(type.get());
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
  if (rank < 0 || (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0))
    fail("{}: cannot read the shape of dataset '{}'{}", file.path(), name, cause());
  auto damaged = [&] {
    fail("{}: cannot read dataset '{}'{}: the checkpoint is damaged; use an earlier one", file.path(), name, cause());
  };
  // Slabs of whole leading-dim rows of about kSlab bytes through one reused
  // buffer, hashed as a stream: the same digest as the whole dataset in one
  // piece, without a fresh buffer of the dataset's size (page faults) or a
  // hash pass over memory the read has already evicted from the cache.
  constexpr std::size_t kSlab = std::size_t{4} << 20;
  std::size_t row_bytes = elem;
  for (int d = 1; d < rank; ++d) row_bytes *= dims[static_cast<std::size_t>(d)];
  if (rank == 0 || n == 0 || row_bytes == 0 || static_cast<std::size_t>(n) * elem <= kSlab) {
    std::vector<unsigned char> bytes(static_cast<std::size_t>(n) * elem);
    if (!bytes.empty() && H5Dread(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()) < 0) damaged();
    return XXH64(bytes.data(), bytes.size(), 0);
  }
  const hsize_t rows_per_slab = std::max<hsize_t>(1, kSlab / row_bytes);
  std::vector<unsigned char> buf(static_cast<std::size_t>(std::min(rows_per_slab, dims[0])) * row_bytes);
  std::unique_ptr<XXH64_state_t, XXH_errorcode (*)(XXH64_state_t*)> state(XXH64_createState(), XXH64_freeState);
  POUCH_CHECK(state != nullptr && XXH64_reset(state.get(), 0) == XXH_OK);
  std::vector<hsize_t> start(dims.size(), 0), count(dims);
  for (hsize_t row = 0; row < dims[0]; row += rows_per_slab) {
    start[0] = row;
    count[0] = std::min(rows_per_slab, dims[0] - row);
    const hsize_t elems = count[0] * (row_bytes / elem);
    h5::Handle mspace = h5::dataspace(H5Screate_simple(1, &elems, nullptr));
    if (!mspace || H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0 ||
        H5Dread(dset.get(), type.get(), mspace.get(), space.get(), H5P_DEFAULT, buf.data()) < 0)
      damaged();
    POUCH_CHECK(XXH64_update(state.get(), buf.data(), static_cast<std::size_t>(count[0]) * row_bytes) == XXH_OK);
  }
  return XXH64_digest(state.get());
}

// A checkpoint nests at most /phase/<kMaxPhaseNameParts parts> (groups to
// depth kMaxPhaseNameParts). A damaged file can hold a group that links to
// itself (found by fuzzing: unbounded recursion), so the walk refuses
// anything deeper than this.
constexpr int kMaxGroupDepth = 8;
static_assert(kMaxPhaseNameParts <= kMaxGroupDepth, "a valid /phase name must not look like a damaged file");

void collect_datasets(const Hdf5File& file, const std::string& group, std::vector<std::string>& out, int depth = 0) {
  if (depth > kMaxGroupDepth)
    fail("{}: groups nest deeper than {} levels at '{}' (a checkpoint has at most {}): the file is damaged",
         file.path(), kMaxGroupDepth, group, kMaxPhaseNameParts);
  for (const auto& child : file.children(group)) {
    std::string path = group == "/" ? "/" + child : group + "/" + child;
    switch (file.kind(path)) {
      case Hdf5Kind::Group:
        collect_datasets(file, path, out, depth + 1);
        break;
      case Hdf5Kind::Dataset:
        out.push_back(path);
        break;
      default:
        fail("{}: '{}' is neither a group nor a dataset: the checkpoint is damaged", file.path(), path);
    }
  }
}

std::uint64_t read_u64_attr(const Hdf5File& file, const std::string& object, const char* key) {
  h5::Handle obj = h5::object(H5Oopen(file.id(), object.c_str(), H5P_DEFAULT));
  if (!obj) fail("{}: cannot open '{}'{}", file.path(), object, cause());
  if (H5Aexists(obj.get(), key) <= 0)
    fail("{}: dataset '{}' has no '{}' checksum attribute: not a complete pouch checkpoint", file.path(), object, key);
  h5::Handle attr = h5::attribute(H5Aopen(obj.get(), key, H5P_DEFAULT));
  std::uint64_t value = 0;
  if (!attr || H5Aread(attr.get(), H5T_NATIVE_UINT64, &value) < 0)
    fail("{}: cannot read attribute '{}' of '{}'{}", file.path(), key, object, cause());
  return value;
}

void check_format(const Hdf5File& file) {
  if (file.kind("/meta") != Hdf5Kind::Group)
    fail("'{}' is not a pouch training checkpoint (no /meta group): give a state.h5 written by pouch", file.path());
  std::int64_t version = file.get_attr_i64("/meta", "format_version");
  if (version != kCheckpointFormatVersion)
    fail("{}: /meta format_version is {}, but this pouch reads version {}: use the pouch that wrote it", file.path(),
         version, kCheckpointFormatVersion);
}

// `phase`: a /phase tensor, whose absence or shape says something else than a
// parameter's.
void read_sharded(const Hdf5File& file, const std::string& name, ShardedTensor& t, bool phase = false) {
  if (file.kind(name) != Hdf5Kind::Dataset) {
    if (phase)
      fail(
          "{}: dataset '{}' is missing: the checkpoint holds no such state of the phase (written by another "
          "phase, another phase config or an older pouch); start that state afresh or resume from a checkpoint of "
          "this phase",
          file.path(), name);
    fail("{}: dataset '{}' is missing: the checkpoint does not hold this model's parameter", file.path(), name);
  }
  Shape stored = file.dataset_shape(name);
  if (stored != t.full_shape)
    fail("{}: dataset '{}' has shape {}, but the {} expects {}: the checkpoint is of another {}", file.path(), name,
         shape_str(stored), phase ? "phase" : "model", shape_str(t.full_shape),
         phase ? "phase config" : "model config");
  Shape local = shard_shape(t.shard, t.full_shape);
  if (!t.local.defined()) t.local = Tensor::empty(local, DType::F32);
  POUCH_CHECK(t.local.shape() == local && t.local.dtype() == DType::F32 && t.local.device() == Device::CPU,
              "read target for '{}' must be f32 {} on the CPU (stage device tensors through host memory)", name,
              shape_str(local));
  if (t.shard.padded_rows > t.full_shape[0]) t.local.zero_();
  if (t.local.numel() == 0) return;
  std::vector<Block> blocks = blocks_of(t.shard, t.full_shape);
  h5::Handle dset = h5::dataset(H5Dopen2(file.id(), name.c_str(), H5P_DEFAULT));
  if (!dset) fail("{}: cannot open dataset '{}'{}", file.path(), name, cause());
  h5::Handle fspace = simple_space(t.full_shape);
  h5::Handle mspace = simple_space(local);
  select(fspace.get(), blocks, true);
  select(mspace.get(), blocks, false);
  if (H5Dread(dset.get(), H5T_NATIVE_FLOAT, mspace.get(), fspace.get(), H5P_DEFAULT, t.local.raw()) < 0)
    fail("{}: cannot read dataset '{}'{}: the checkpoint is damaged; use an earlier one", file.path(), name, cause());
}

// Row `rank` of every [rows, n] dataset in `group`, or nothing when rank >= rows.
template <typename T>
void read_rows(const Hdf5File& file, const std::string& group, int rank, hid_t mem_type,
               std::map<std::string, std::vector<T>>& out) {
  out.clear();
  if (file.kind(group) != Hdf5Kind::Group) return;
  for (const auto& key : file.children(group)) {
    std::string name = group + "/" + key;
    Shape shape = file.dataset_shape(name);
    if (shape.size() != 2)
      fail("{}: dataset '{}' has shape {}, expected [ranks, n]", file.path(), name, shape_str(shape));
    if (rank >= shape[0]) continue;
    std::vector<T> row(static_cast<std::size_t>(shape[1]));
    if (row.empty()) {
      out[key] = row;
      continue;
    }
    h5::Handle dset = h5::dataset(H5Dopen2(file.id(), name.c_str(), H5P_DEFAULT));
    h5::Handle fspace = simple_space(shape);
    h5::Handle mspace = simple_space({shape[1]});
    hsize_t start[2] = {static_cast<hsize_t>(rank), 0}, count[2] = {1, static_cast<hsize_t>(shape[1])};
    POUCH_CHECK(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, count, nullptr) >= 0);
    if (!dset || H5Dread(dset.get(), mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, row.data()) < 0)
      fail("{}: cannot read row {} of dataset '{}'{}", file.path(), rank, name, cause());
    out[key] = std::move(row);
  }
}

// At most one collective (MPI-IO) checkpoint write per process at a time:
// rule 1 of the deadlock argument in training_checkpoint.h. A second thread
// that starts one while another is inside one is a programming error; it
// throws here instead of hanging in MPI with the HDF5 lock held.
class CollectiveWriteClaim {
 public:
  explicit CollectiveWriteClaim(const std::string& path) {
    if (in_flight_.exchange(true))
      fail(
          "checkpoint '{}': another thread of this process is inside a collective checkpoint write; two at once "
          "can deadlock across ranks: join the background writer first (AsyncCheckpointWriter::wait)",
          path);
  }
  CollectiveWriteClaim(const CollectiveWriteClaim&) = delete;
  CollectiveWriteClaim& operator=(const CollectiveWriteClaim&) = delete;
  ~CollectiveWriteClaim() { in_flight_.store(false); }
  static bool held() { return in_flight_.load(); }

 private:
  static inline std::atomic<bool> in_flight_{false};
};

}  // namespace

CheckpointGroup CheckpointGroup::of(const ParallelContext& ctx) {
  CheckpointGroup g;
  g.rank = ctx.rank();
  g.size = ctx.world_size();
  g.tp_rank = ctx.tp_rank();
  g.tp_size = ctx.tp_size();
  g.dp_rank = ctx.dp_rank();
  g.dp_size = ctx.dp_size();
  g.world = &ctx.world();
  return g;
}

void CheckpointGroup::barrier() const {
  if (size > 1) world->barrier();
}

void CheckpointGroup::on_rank0(const std::string& what, const std::function<void()>& fn) const {
  std::exception_ptr error;
  if (rank == 0) {
    try {
      fn();
    } catch (...) {
      error = std::current_exception();
    }
  }
  if (size > 1) {
    Tensor status = Tensor::empty({1}, DType::I32);
    status.data<std::int32_t>()[0] = error ? 1 : 0;
    world->broadcast(status, 0);
    if (rank != 0 && status.data<std::int32_t>()[0] != 0)
      fail("rank {}: rank 0 failed {}; its log says why", rank, what);
  }
  if (error) std::rethrow_exception(error);
}

bool collective_checkpoint_write_in_flight() { return CollectiveWriteClaim::held(); }

void write_checkpoint_file(const std::string& path, const CheckpointState& mine, const CheckpointGroup& group) {
  POUCH_CHECK(group.size == 1 || group.world != nullptr, "a checkpoint group of {} ranks needs the world communicator",
              group.size);
  POUCH_CHECK(
      mine.optim_m.size() == mine.optim_v.size() && (mine.optim_m.empty() || mine.optim_m.size() == mine.model.size()),
      "optim_m and optim_v must be empty or hold one tensor per model tensor");
  for (const auto& t : mine.model) POUCH_CHECK(valid_name(t.name), "'{}' cannot be a dataset name", t.name);
  for (const auto& [k, v] : mine.rng_per_rank) POUCH_CHECK(valid_name(k), "'{}' cannot be a dataset name", k);
  for (const auto& [k, v] : mine.data_per_rank) POUCH_CHECK(valid_name(k), "'{}' cannot be a dataset name", k);
  for (const auto& [k, v] : mine.f64_per_rank) POUCH_CHECK(valid_name(k), "'{}' cannot be a dataset name", k);
  check_phase_names(mine.phase);
  for (const auto& [k, v] : mine.extra_attrs)
    POUCH_CHECK(std::find(kMetaKeys.begin(), kMetaKeys.end(), k) == kMetaKeys.end(),
                "extra attribute '{}' collides with a /meta attribute", k);
  std::optional<CollectiveWriteClaim> claim;
  if (group.size > 1) claim.emplace(path);
  check_same_structure(path, mine, group);

  // The HDF5 lock covers the collective part, whose MPI traffic is HDF5's own
  // (on its duplicate of the communicator), and the rank-0 pass below; it is
  // released for this function's own all-reduce and broadcasts.
  std::map<std::string, std::uint64_t> hashed;
  {
    h5::Lock lock;
    h5::silence_errors();
    h5::Handle fapl = h5::plist(H5Pcreate(H5P_FILE_ACCESS));
    POUCH_CHECK(fapl.valid());
    if (group.size > 1) {
      auto* mpi = dynamic_cast<MpiCommunicator*>(group.world);
      POUCH_CHECK(mpi != nullptr, "a checkpoint written by {} ranks needs an MPI world communicator, got '{}'",
                  group.size, group.world->name());
      // HDF5 duplicates the communicator, so its MPI-IO traffic never mixes
      // with the communicator's own collectives.
      POUCH_CHECK(H5Pset_fapl_mpio(fapl.get(), mpi->mpi_comm(), MPI_INFO_NULL) >= 0);
    }
    Hdf5File file = Hdf5File::create_with_access(path, fapl.get());
    std::optional<EarlyWriteback> writeback;
    if (group.size == 1) writeback.emplace(path);
    Writer w{file, group, transfer_plist(group.size > 1), hashed, writeback ? &*writeback : nullptr};
    for (const char* g : {"/meta", "/model", "/optim", "/rng", "/data"}) file.create_group(g);
    // /data_f64 and /phase only when used: files without them stay as before.
    if (!mine.f64_per_rank.empty()) file.create_group("/data_f64");
    if (!mine.phase.empty()) file.create_group("/phase");
    for (const auto& t : mine.model) w.write_sharded("/model/" + t.name, t);
    for (std::size_t i = 0; i < mine.optim_m.size(); ++i) {
      const auto& name = mine.model[i].name;
      POUCH_CHECK(mine.optim_m[i].name == name && mine.optim_v[i].name == name,
                  "optimizer moments must be in the model's order ('{}' vs '{}')", mine.optim_m[i].name, name);
      file.create_group("/optim/" + name);
      w.write_sharded("/optim/" + name + "/m", mine.optim_m[i]);
      w.write_sharded("/optim/" + name + "/v", mine.optim_v[i]);
    }
    for (const auto& [k, v] : mine.rng_per_rank)
      w.write_rows("/rng/" + k, H5T_STD_U64LE, H5T_NATIVE_UINT64, v.size(), v.data());
    for (const auto& [k, v] : mine.data_per_rank)
      w.write_rows("/data/" + k, H5T_STD_I64LE, H5T_NATIVE_INT64, v.size(), v.data());
    for (const auto& [k, v] : mine.f64_per_rank)
      w.write_rows("/data_f64/" + k, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v.size(), v.data());
    // Group creation is collective too: every rank creates the same groups in
    // the same order (the structure check above made the names agree).
    std::set<std::string> phase_groups;
    for (const auto& t : mine.phase) {
      for (std::size_t slash = t.name.find('/'); slash != std::string::npos; slash = t.name.find('/', slash + 1)) {
        std::string g = "/phase/" + t.name.substr(0, slash);
        if (phase_groups.insert(g).second) file.create_group(g);
      }
      w.write_sharded("/phase/" + t.name, t);
    }
    file.close();
  }

  // Attributes and checksums by one writer: no collective attribute writes
  // (whose values must agree on every rank), and xxh64 is not mergeable
  // across slabs, so rank 0 hashes each full dataset as it lies on disk,
  // except those it wrote whole from its own memory (hashed while writing:
  // the same bytes, without reading the file back; a world of one writes
  // every dataset so). The publish protocol's verify still re-reads the file.
  group.on_rank0(fmt::format("to finish checkpoint '{}'", path), [&] {
    h5::Lock lock;
    Hdf5File file = Hdf5File::open_for_update(path);
    const CheckpointMeta& m = mine.meta;
    file.set_attr_i64("/meta", "format_version", kCheckpointFormatVersion);
    file.set_attr_str("/meta", "pouch_version", m.pouch_version.empty() ? std::string(POUCH_VERSION) : m.pouch_version);
    file.set_attr_str("/meta", "config", m.config_ini);
    file.set_attr_str("/meta", "phase", m.phase);
    file.set_attr_i64("/meta", "step", m.step);
    file.set_attr_i64("/meta", "tokens_seen", m.tokens_seen);
    file.set_attr_i64("/meta", "tp", group.tp_size);
    file.set_attr_i64("/meta", "dp", group.dp_size);
    file.set_attr_i64("/meta", "world_size", group.size);
    for (const auto& [k, v] : mine.extra_attrs) file.set_attr_str("/meta", k, v);
    file.set_attr_i64("/optim", "step", mine.optim_step);
    if (mine.model_config) write_model_attrs(file, *mine.model_config, {});
    std::vector<std::string> datasets;
    collect_datasets(file, "/", datasets);
    for (const auto& d : datasets) {
      const auto known = hashed.find(d);
      write_u64_attr(file, d, kChecksumAttr, known != hashed.end() ? known->second : dataset_xxh64(file, d));
    }
    file.close();
  });
}

std::int64_t verify_checkpoint_file(const std::string& path) { return verify_checkpoint_file(Hdf5File::open(path)); }

std::int64_t verify_checkpoint_file(const Hdf5File& file) {
  h5::Lock lock;
  const std::string& path = file.path();
  check_format(file);
  std::vector<std::string> datasets;
  collect_datasets(file, "/", datasets);
  for (const auto& d : datasets) {
    std::uint64_t stored = read_u64_attr(file, d, kChecksumAttr);
    std::uint64_t actual = dataset_xxh64(file, d);
    if (stored != actual)
      fail(
          "{}: dataset '{}' fails its checksum (stored xxh64 {:016x}, data hashes to {:016x}): the checkpoint is "
          "corrupt; use an earlier one",
          path, d, stored, actual);
  }
  return static_cast<std::int64_t>(datasets.size());
}

void read_checkpoint_file(const std::string& path, CheckpointState& mine, const ReadOptions& options) {
  read_checkpoint_file(Hdf5File::open(path), mine, options);
}

void read_checkpoint_file(const Hdf5File& file, CheckpointState& mine, const ReadOptions& options) {
  h5::Lock lock;
  const std::string& path = file.path();
  if (options.verify) verify_checkpoint_file(file);
  check_format(file);

  CheckpointMeta& m = mine.meta;
  m.format_version = file.get_attr_i64("/meta", "format_version");
  m.pouch_version = file.get_attr_str("/meta", "pouch_version");
  m.config_ini = file.get_attr_str("/meta", "config");
  m.phase = file.get_attr_str("/meta", "phase");
  m.step = file.get_attr_i64("/meta", "step");
  m.tokens_seen = file.get_attr_i64("/meta", "tokens_seen");
  m.tp = static_cast<int>(file.get_attr_i64("/meta", "tp"));
  m.dp = static_cast<int>(file.get_attr_i64("/meta", "dp"));
  m.world_size = static_cast<int>(file.get_attr_i64("/meta", "world_size"));
  mine.extra_attrs.clear();
  for (const auto& key : file.attr_names("/meta")) {
    if (std::find(kMetaKeys.begin(), kMetaKeys.end(), key) != kMetaKeys.end()) continue;
    if (file.attr_kind("/meta", key) == Hdf5AttrKind::String) mine.extra_attrs[key] = file.get_attr_str("/meta", key);
  }
  mine.model_config.reset();
  if (file.kind("/model") == Hdf5Kind::Group && file.has_attr("/model", "layers"))
    mine.model_config = read_model_config(file);

  for (auto& t : mine.model) read_sharded(file, "/model/" + t.name, t);
  if (options.optim) {
    if (!mine.optim_m.empty() && file.kind("/optim") != Hdf5Kind::Group)
      fail("{}: group '/optim' is missing: the checkpoint has no optimizer state", path);
    if (file.kind("/optim") == Hdf5Kind::Group) mine.optim_step = file.get_attr_i64("/optim", "step");
    for (auto& t : mine.optim_m) read_sharded(file, "/optim/" + t.name + "/m", t);
    for (auto& t : mine.optim_v) read_sharded(file, "/optim/" + t.name + "/v", t);
  }
  read_rows(file, "/rng", options.rank, H5T_NATIVE_UINT64, mine.rng_per_rank);
  read_rows(file, "/data", options.rank, H5T_NATIVE_INT64, mine.data_per_rank);
  read_rows(file, "/data_f64", options.rank, H5T_NATIVE_DOUBLE, mine.f64_per_rank);
  check_phase_names(mine.phase);
  for (auto& t : mine.phase) read_sharded(file, "/phase/" + t.name, t, true);
}

std::vector<std::pair<std::string, Shape>> list_phase_tensors(const std::string& path) {
  return list_phase_tensors(Hdf5File::open(path));
}

std::vector<std::pair<std::string, Shape>> list_phase_tensors(const Hdf5File& file) {
  h5::Lock lock;
  std::vector<std::pair<std::string, Shape>> out;
  if (file.kind("/phase") != Hdf5Kind::Group) return out;
  std::vector<std::string> datasets;
  collect_datasets(file, "/phase", datasets, 1);
  for (auto& d : datasets) {
    Shape shape = file.dataset_shape(d);
    out.emplace_back(d.substr(std::string("/phase/").size()), std::move(shape));
  }
  return out;
}

}  // namespace pouch
