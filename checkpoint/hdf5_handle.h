#pragma once
// Internal to checkpoint/: includes hdf5.h, which is linked privately, so no
// public header of pouch includes this one.
#include <hdf5.h>

#include <mutex>
#include <string>
#include <utility>

namespace pouch::h5 {

// Threads. The HDF5 pouch links (Debian's Open MPI build, 1.10) is NOT
// thread-safe: H5_HAVE_THREADSAFE is undefined in its H5pubconf.h, so its
// globals (identifier table, metadata cache, API context stack, and one
// error stack for the whole process) are unguarded, and two threads inside
// the library at once corrupt them. pouch makes HDF5 safe by construction
// instead: every function of checkpoint/ that calls the HDF5 C API holds a
// Lock for all of its HDF5 work, from the first call to the read of the
// error stack that explains a failure. That includes the H5T_NATIVE_*,
// H5T_STD_*, H5T_IEEE_* and H5P_<class> macros, which call H5open(), and
// every close (Handle and Hdf5File take the Lock themselves). Code outside
// checkpoint/ calls HDF5 only through it and never locks (a test that calls
// HDF5 directly beside other threads takes a Lock). The mutex is recursive:
// wrapper functions call each other while holding it. A thread-safe HDF5
// build would add its own lock under this one, harmlessly.
//
// Holding the Lock while blocked in an MPI-IO collective is allowed; why
// that cannot deadlock is argued in checkpoint/training_checkpoint.h.
std::recursive_mutex& library_mutex();

class Lock {
 public:
  Lock() : lock_(library_mutex()) {}

 private:
  std::unique_lock<std::recursive_mutex> lock_;
};

// Owns one HDF5 identifier and closes it with the matching H5*close. Every
// object opened by pouch is held by one of these, so an exception never leaks
// an open dataset that would keep the file open after H5Fclose.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);

  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)), closer_(other.closer_) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
      closer_ = other.closer_;
    }
    return *this;
  }
  ~Handle() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Closes now and reports whether the close succeeded (destructors cannot).
  bool close() {
    if (!valid()) return true;
    Lock lock;
    herr_t status = closer_(std::exchange(id_, H5I_INVALID_HID));
    return status >= 0;
  }
  void reset() { close(); }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

inline Handle file(hid_t id) { return {id, H5Fclose}; }
inline Handle group(hid_t id) { return {id, H5Gclose}; }
inline Handle dataset(hid_t id) { return {id, H5Dclose}; }
inline Handle dataspace(hid_t id) { return {id, H5Sclose}; }
inline Handle datatype(hid_t id) { return {id, H5Tclose}; }
inline Handle attribute(hid_t id) { return {id, H5Aclose}; }
inline Handle plist(hid_t id) { return {id, H5Pclose}; }
inline Handle object(hid_t id) { return {id, H5Oclose}; }

// Turns off HDF5's printing of its error stack, for the whole process (the
// library has one default stack, not one per thread); pouch reports its own
// messages instead.
void silence_errors();

// The most specific message on HDF5's error stack, e.g. "incorrect metadata
// checksum after all read attempts", or "" when the stack is empty. Clears
// the stack. The stack is the process's, so this must run under the same
// Lock as the call that failed: another thread's next call clears it.
std::string last_error();

}  // namespace pouch::h5
