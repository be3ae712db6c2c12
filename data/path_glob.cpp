#include "data/path_glob.h"

#include <glob.h>

#include <algorithm>

#include "runtime/error.h"

namespace pouch {

std::vector<std::string> expand_glob(const std::string& pattern, const std::string& what) {
  if (pattern.empty()) fail("{}: empty path", what);
  glob_t g{};
  int rc = ::glob(pattern.c_str(), GLOB_ERR, nullptr, &g);
  std::vector<std::string> paths;
  if (rc == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i) paths.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
  if (rc == GLOB_NOMATCH || (rc == 0 && paths.empty())) fail("{}: '{}' matches no file", what, pattern);
  if (rc != 0) fail("{}: cannot expand '{}' (a directory could not be read)", what, pattern);
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace pouch
