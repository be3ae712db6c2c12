#include "checkpoint/hdf5_handle.h"

#include <vector>

namespace pouch::h5 {

// Never destroyed: a file or handle held by a static object may close
// during exit, after function-local statics are gone.
std::recursive_mutex& library_mutex() {
  static auto* mutex = new std::recursive_mutex;
  return *mutex;
}

void silence_errors() {
  Lock lock;
  static bool silenced = false;
  if (!silenced) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    silenced = true;
  }
}

namespace {
herr_t collect(unsigned, const H5E_error2_t* err, void* out) {
  if (err->desc != nullptr && err->desc[0] != '\0')
    static_cast<std::vector<std::string>*>(out)->emplace_back(err->desc);
  return 0;
}
}  // namespace

std::string last_error() {
  Lock lock;
  std::vector<std::string> messages;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, &messages);
  H5Eclear2(H5E_DEFAULT);
  // Walking downward goes from the API call to where the error was detected;
  // the last entry is the specific cause.
  return messages.empty() ? std::string() : messages.back();
}

}  // namespace pouch::h5
