#pragma once
// One training checkpoint: one HDF5 file holding a run's full state, written
// collectively by every rank and read back by any layout (resharding).
// docs/checkpoint-format.md describes the file; in outline:
//
//   /meta                 attrs: format_version, pouch_version, config, phase,
//                         step, tokens_seen, tp, dp, world_size (+ extra attrs)
//   /model/<name>         f32, the parameter's FULL logical shape (a weights
//                         file's /model: load_weights reads a checkpoint)
//   /optim                attr step (AdamW's step count)
//   /optim/<name>/m, /v   f32, same full shape as /model/<name>
//   /rng/<stream>         u64 [world_size, words]: row r = rank r's state
//   /data/<key>           i64 [world_size, n]:     row r = rank r's values
//   /data_f64/<key>       f64 [world_size, n]:     row r = rank r's values
//   /phase/<path>         f32, full logical shape: tensors of the current
//                         phase; <path> may nest ("ppo/ref/wte")
//   every dataset         attr xxh64 (u64): xxHash64 (seed 0) of its data's
//                         bytes in C order, little-endian, as stored
//
// Sharding rule (runtime/tensor_shard.h): the tensor-parallel ranks of
// data-parallel replica 0 write their own hyperslabs of each sharded tensor;
// a replicated tensor is written by world rank 0 alone; every other rank
// joins each collective write with an empty selection. On read each rank
// selects the hyperslabs of the ShardSpec it asks for, which need not be the
// writer's: a file written at tp=2 loads at tp=1 or tp=4.
//
// Threads. Every function here may be called from any thread: their HDF5
// work holds the process-wide HDF5 lock (checkpoint/hdf5_handle.h), taken
// inside checkpoint/, never by callers. A write of several ranks holds it
// while blocked in HDF5's MPI-IO collectives (file create, dataset create
// and write, close: each waits for the same call on the other ranks). That
// cannot deadlock, because of three rules:
//  1. At most one thread per process is inside a collective write:
//     write_checkpoint_file over more than one rank throws when another
//     thread of the process is inside one. The background writer
//     (checkpoint/async_checkpoint_writer.h) has one write in flight at a time
//     and joins it before a write on the training thread (write_now).
//  2. The lock is never held across MPI outside HDF5's collectives: it is
//     released for this file's own all-reduce and broadcasts, and every
//     other HDF5 call (weights files, reads, verification, rank 0's
//     attribute pass: files opened without MPI-IO) waits on no other rank,
//     so a thread that waits for the lock waits for one bounded call or for
//     a collective call that every rank's writer reaches (rule 3).
//  3. Every rank's writer reaches the same collective calls in the same
//     order without waiting for another rank's training thread: each rank
//     starts it at the same step, after that step's last training
//     collective, on a snapshot, over the io communicator.
// The cycle "A's training thread holds A's lock inside a training
// collective waiting for B; B's training thread waits for B's lock, held by
// B's writer inside an io collective waiting for A's writer; A's writer
// waits for A's lock" needs a thread that holds the lock inside an MPI call
// other than its own collective write (excluded by rule 2), or a training
// thread in a collective write while its writer is in one (excluded by
// rule 1). Without the cycle, each io collective completes once every
// rank's writer reaches it (rule 3), and releases the lock.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/gpt_config.h"
#include "runtime/tensor.h"
#include "runtime/tensor_shard.h"

namespace pouch {

class Communicator;
class Hdf5File;
class ParallelContext;

inline constexpr std::int64_t kCheckpointFormatVersion = 1;

struct CheckpointMeta {
  std::int64_t step = 0;  // optimizer steps completed (= the data position)
  std::int64_t tokens_seen = 0;
  std::string phase;                                       // e.g. "pretrain"
  int tp = 1, dp = 1;                                      // the writer's layout (informational on read)
  int world_size = 1;                                      // the writer's world size (set by the writer)
  std::string config_ini;                                  // the run's config text
  std::string pouch_version;                               // filled with POUCH_VERSION when empty on write
  std::int64_t format_version = kCheckpointFormatVersion;  // read back from the file
};

// At most this many '/'-separated parts in a /phase tensor's name.
inline constexpr int kMaxPhaseNameParts = 6;

// A rank's piece of a full logical f32 tensor. On write `local` holds the
// shard `shard` describes; on read `local` may be undefined (it is allocated
// with shard_shape(shard, full_shape)) or a tensor of that shape to fill.
struct ShardedTensor {
  // Dataset name under /model (and /optim/<name>/): no '/'. Under /phase: a
  // relative path of 1..kMaxPhaseNameParts parts separated by '/' (no empty,
  // "." or ".." part), e.g. "ppo/ref/wte"; the groups on the way are created.
  std::string name;
  Shape full_shape;
  ShardSpec shard;
  Tensor local;
};

struct CheckpointState {
  CheckpointMeta meta;
  std::vector<ShardedTensor> model, optim_m, optim_v;  // optim_*: empty, or one per model tensor, same names
  std::int64_t optim_step = 0;                         // AdamW's step count (/optim attr `step`)
  // stream -> this rank's state words; key -> this rank's values. Every rank
  // must give the same keys with the same lengths (checked on write).
  std::map<std::string, std::vector<std::uint64_t>> rng_per_rank;
  std::map<std::string, std::vector<std::int64_t>> data_per_rank;
  // key -> this rank's doubles (loss scale, KL coefficient, ...), stored as
  // /data_f64/<key> with the same rules as data_per_rank (a separate group:
  // readers of /data take every dataset there as i64).
  std::map<std::string, std::vector<double>> f64_per_rank;
  // Tensors of the current training phase (a PPO reference model and value
  // head, LoRA adapters and their AdamW moments, an EWC Fisher, ...), stored
  // as /phase/<name> exactly like `model`: full logical shape, the same
  // sharding rule and checksums, read back (resharded) by the ShardSpec the
  // reader lists. Every rank lists the same names and shapes. A reader reads
  // only the names it lists, so one that lists none ignores /phase.
  std::vector<ShardedTensor> phase;
  std::map<std::string, std::string> extra_attrs;  // more string attrs of /meta
  // When set, /model carries the weights-file attributes (layers, d_model,
  // ..., format "pouch-weights"), so load_weights() reads the checkpoint.
  std::optional<GPTConfig> model_config;
};

// Who writes: rank and world size are parameters so that a world of one
// needs no MPI. With size > 1 `world` must be the world MpiCommunicator (its
// MPI_Comm drives MPI-IO, and its barrier orders the single-writer passes);
// no asynchronous collective may be in flight on it during a write.
struct CheckpointGroup {
  int rank = 0, size = 1;  // world
  int tp_rank = 0, tp_size = 1;
  int dp_rank = 0, dp_size = 1;
  Communicator* world = nullptr;  // required when size > 1

  static CheckpointGroup single() { return {}; }
  static CheckpointGroup of(const ParallelContext& ctx);
  void barrier() const;  // no-op for a world of one
  // Runs `fn` on world rank 0 only; the other ranks learn whether it
  // succeeded (a broadcast, which also orders everything after it behind rank
  // 0's work) and throw, naming `what`, if it did not.
  void on_rank0(const std::string& what, const std::function<void()>& fn) const;
};

// Collective over the group's world (and, over more than one rank, at most
// one such write per process at a time: rule 1 above): creates `path`
// (replacing it), writes
// every dataset at its full logical shape, then world rank 0 reopens the file
// alone to add the attributes and per-dataset xxh64 checksums, and all ranks
// meet at a barrier. Errors are pouch::Error naming the path and dataset; a
// mismatch between ranks (different tensor lists, rng keys or lengths) is
// detected before any dataset is created and thrown on every rank.
void write_checkpoint_file(const std::string& path, const CheckpointState& mine, const CheckpointGroup& group);

// Whether a thread of this process is inside a collective (more than one
// rank) write_checkpoint_file now: rule 1 above.
bool collective_checkpoint_write_in_flight();

struct ReadOptions {
  int rank = 0;        // which row of /rng and /data this rank reads
  bool verify = true;  // check every dataset's xxh64 first (reads the whole file)
  bool optim = true;   // read /optim into optim_m / optim_v
};

// Not collective: each rank opens the file on its own (default driver) and
// reads the hyperslabs of the ShardSpecs in `mine.model` (and optim_m/v when
// given) and `mine.phase`. Fills meta, optim_step, model_config (when /model
// has it), extra_attrs, and rng/data/f64 with row `options.rank` of every
// stream in the file; when the file has fewer rows (written by a smaller
// world) the stream is left out of the map and the caller reseeds. A missing
// or damaged file, a wrong format_version, a missing dataset (a listed phase
// tensor included), a shape that differs from full_shape, or (verify) a
// checksum mismatch: pouch::Error naming the path and the dataset.
void read_checkpoint_file(const std::string& path, CheckpointState& mine, const ReadOptions& options = {});

// Names and full shapes of every tensor under /phase (names relative to
// /phase, e.g. "ppo/ref/wte"), in the order written; empty when the file has
// no /phase (a pretraining checkpoint, or one written before /phase existed).
// For a phase that must decide whether to resume its own state or start it.
std::vector<std::pair<std::string, Shape>> list_phase_tensors(const Hdf5File& file);
std::vector<std::pair<std::string, Shape>> list_phase_tensors(const std::string& path);

// Recomputes every dataset's xxh64 and compares it with its attribute; throws
// pouch::Error naming the path and the first dataset that is missing its
// checksum or does not match. Also checks /meta's format_version. Returns the
// number of datasets checked.
std::int64_t verify_checkpoint_file(const std::string& path);

// The same two on a file already open (the path versions open it and call
// these; the fuzz target passes a file held in memory, Hdf5File::open_image).
void read_checkpoint_file(const Hdf5File& file, CheckpointState& mine, const ReadOptions& options = {});
std::int64_t verify_checkpoint_file(const Hdf5File& file);

}  // namespace pouch
