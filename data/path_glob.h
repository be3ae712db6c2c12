#pragma once
#include <string>
#include <vector>

namespace pouch {

// The files matching a shell glob (a plain path matches itself if it
// exists), sorted bytewise. No match throws pouch::Error naming the pattern;
// `what` says what the pattern is for ("[data] path").
std::vector<std::string> expand_glob(const std::string& pattern, const std::string& what);

}  // namespace pouch
