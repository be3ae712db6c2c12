#pragma once
// Internal to checkpoint/: includes hdf5.h, which is linked privately, so no
// public header of pouch includes this one.
#include <hdf5.h>

#include <string>
#include <utility>

namespace pouch::h5 {

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

// Turns off HDF5's printing of its error stack for the calling thread (the
// Debian build is thread-safe, so the setting is per thread); pouch reports
// its own messages instead.
void silence_errors();

// The most specific message on the calling thread's HDF5 error stack, e.g.
// "incorrect metadata checksum after all read attempts", or "" when the stack
// is empty. Clears the stack.
std::string last_error();

}  // namespace pouch::h5
