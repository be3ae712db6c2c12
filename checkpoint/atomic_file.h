#pragma once
// Publishing a file so that readers see either the old version or the whole
// new one, never a torn write (a writer killed mid-write leaves an HDF5 file
// that will not open): write to a temporary name, fsync it, rename it over
// the final name, fsync the directory so the rename itself is durable.
// Checkpoint directories (step-N.tmp -> step-N) use the same two calls.
#include <string>

namespace pouch {

// The temporary name a file or directory is written under before publish().
std::string temporary_path(const std::string& final_path);

// fsync a file or a directory; a pouch::Error names the path on failure.
void fsync_path(const std::string& path);

// fsync `tmp_path`, rename it to `final_path` (replacing what is there) and
// fsync the containing directory.
void publish(const std::string& tmp_path, const std::string& final_path);

}  // namespace pouch
